"""The bundled demo corpus (chiron/data/demo/corpus.jsonl): it parses cleanly, is varied enough to exercise
the builders, repeats the twelve search cases faithfully, and holds exactly the documented edge cases."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from chiron.data import make_demo
from chiron.data.corpus import BadCase, CaseRecord, read_corpus

DEMO = Path(make_demo.__file__).resolve().parent / "demo"
IMAGES = DEMO / "images"
CORPUS = DEMO / "corpus.jsonl"
EDGE = make_demo.EDGE_CASES
NOT_ANNOTATED = {"demo-024", "demo-028", "demo-034"}
MIN_SIDE = 196


@pytest.fixture(scope="module")
def corpus() -> list[CaseRecord]:
    found = list(read_corpus(str(CORPUS), str(IMAGES)))
    assert [b for b in found if isinstance(b, BadCase)] == []
    return found


@pytest.fixture(scope="module")
def raw() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def _images(corpus: list[CaseRecord]):
    for case in corpus:
        for group in case.image_groups:
            for image in group.images:
                yield case, group, image


def _words(case: CaseRecord) -> int:
    return len(" ".join([g.caption for g in case.image_groups] + [case.discussion]).split())


def test_every_line_is_a_case(corpus, raw):
    assert len(corpus) == len(raw)
    assert all(isinstance(c, CaseRecord) for c in corpus)
    assert [c.id for c in corpus] == [f"demo-{n:03d}" for n in range(1, len(corpus) + 1)]


def test_corpus_is_large_and_varied(corpus):
    assert len(corpus) >= 32
    modalities = {g.modality for c in corpus for g in c.image_groups}
    assert len(modalities) >= 8, modalities
    assert set(modalities) <= set(make_demo.MODALITY_NAMES.values())
    systems = {s for c in corpus for s in c.systems}
    assert len(systems) >= 10, systems
    for c in corpus:
        assert c.title and c.systems and c.presentation and c.age and c.gender, c.id
        assert c.certainty.startswith("Diagnosis "), c.id
        assert c.image_groups and all(g.images for g in c.image_groups), c.id


def test_case_length_spreads(corpus):
    # As documented: four short cases and four long ones, so token-count levels spread.
    words = {c.id: _words(c) for c in corpus}
    assert {i for i, n in words.items() if n <= 50} >= {"demo-013", "demo-020", "demo-024", "demo-027"}, words
    assert {i for i, n in words.items() if n > 300} >= {"demo-014", "demo-019", "demo-023", "demo-025"}, words


def test_first_twelve_are_the_search_cases(corpus):
    search = list(read_corpus(str(DEMO / "cases.jsonl"), str(IMAGES)))
    assert len(search) == 12 and all(isinstance(c, CaseRecord) for c in search)
    for ref, case in zip(search, corpus[:12], strict=True):
        assert case.id == ref.id
        for name in ("title", "presentation", "age", "gender", "certainty"):
            assert getattr(case, name) == getattr(ref, name), (case.id, name)
        assert case.qa == ref.qa, case.id
        assert [[i.ref for i in g.images] for g in case.image_groups] == \
            [[i.ref for i in g.images] for g in ref.image_groups], case.id
        assert [g.modality for g in case.image_groups] == \
            [make_demo.MODALITY_NAMES[g.modality] for g in ref.image_groups], case.id
        # The same findings, only starting with a capital letter.
        assert [g.caption for g in case.image_groups] == \
            [g.caption[:1].upper() + g.caption[1:] for g in ref.image_groups], case.id
        assert case.discussion and case.annotated, case.id
    assert all(c.qa is None for c in corpus[12:])


def test_keywords_are_phrases_of_their_caption(corpus):
    for _, group, image in _images(corpus):
        for keyword in image.keywords:
            assert keyword in group.caption, (image.ref, keyword)


def test_annotations_where_expected(corpus):
    assert {c.id for c in corpus if not c.annotated} == NOT_ANNOTATED
    for case, _, image in _images(corpus):
        if case.annotated:
            assert image.description and image.keywords, image.ref
        else:
            assert not image.description and not image.keywords, image.ref


def test_cases_without_discussion(corpus, raw):
    assert {c.id for c in corpus if not c.discussion} == set(EDGE["no_discussion"])
    assert {r["id"] for r in raw if "discussion" not in r} == set(EDGE["no_discussion"])


def test_case_without_captions(corpus):
    assert {c.id for c in corpus if any(not g.caption for g in c.image_groups)} == {EDGE["no_caption"]}
    case = next(c for c in corpus if c.id == EDGE["no_caption"])
    assert case.imaging_analysis == "" and all(g.images for g in case.image_groups)


def test_small_and_unreadable_images(corpus):
    small, unreadable = [], []
    for _, _, image in _images(corpus):
        assert Path(image.path).is_file(), image.ref
        try:
            with Image.open(image.path) as im:
                size = im.size
                im.verify()
        except Exception:
            unreadable.append(image.ref)
            continue
        if min(size) < MIN_SIDE:
            small.append((image.ref, size))
    assert small == [(EDGE["small_image"], (160, 160))]
    assert unreadable == [EDGE["unreadable_image"]]
    # The small image sits in an otherwise good group.
    group = next(g for _, g, i in _images(corpus) if i.ref == EDGE["small_image"])
    others = [i for i in group.images if i.ref != EDGE["small_image"]]
    assert others and all(min(Image.open(i.path).size) >= MIN_SIDE for i in others)


def test_one_duplicate_pair(corpus):
    pairs = []
    for case in corpus:
        seen: dict[str, str] = {}
        for group in case.image_groups:
            for image in group.images:
                digest = hashlib.md5(Path(image.path).read_bytes()).hexdigest()
                if digest in seen:
                    pairs.append((seen[digest], image.ref))
                seen.setdefault(digest, image.ref)
    assert pairs == [EDGE["duplicate_images"]]
    first, second = EDGE["duplicate_images"]
    assert first.rsplit("/", 1)[0] == second.rsplit("/", 1)[0] and first != second


def test_one_group_with_eleven_keyframes(corpus):
    big = [(c.id, g) for c in corpus for g in c.image_groups if len(g.images) > 10]
    assert len(big) == 1
    _, group = big[0]
    assert len(group.images) == 11
    assert {i.ref.rsplit("/", 1)[0] for i in group.images} == {EDGE["many_keyframes"]}
    for image in group.images:
        with Image.open(image.path) as im:
            assert im.size == (200, 200)


def test_edge_cases_are_documented():
    docs = (DEMO / "README.md").read_text(encoding="utf-8"), make_demo.__doc__
    names = [*EDGE["no_discussion"], EDGE["no_caption"], EDGE["small_image"], EDGE["duplicate_images"][1],
             EDGE["many_keyframes"], EDGE["unreadable_image"]]
    for text in docs:
        for name in names:
            assert name in text, name


def test_every_corpus_image_is_referenced(corpus):
    referenced = {i.ref for _, _, i in _images(corpus)}
    on_disk = {p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*") if p.is_file()
               and not p.relative_to(IMAGES).as_posix().startswith("demo-bad")}
    assert on_disk == referenced


def test_corpus_generation_is_deterministic(tmp_path):
    # Only the corpus part (corpus_records): generate() as a whole is covered by test_demo_data.py.
    runs = []
    for name in ("a", "b"):
        records = make_demo.corpus_records(tmp_path / name)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        files = {p.relative_to(tmp_path / name).as_posix(): p.read_bytes()
                 for p in sorted((tmp_path / name).rglob("*")) if p.is_file()}
        runs.append((text, files))
    assert runs[0] == runs[1]
    assert runs[0][0] == CORPUS.read_text(encoding="utf-8")
