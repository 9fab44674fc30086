"""Image paths stay inside their roots: `..`, an absolute path elsewhere and a symlink out are refused
(chiron.utils.paths.resolve_in_root) in every reader, set aside like a bad image and never opened;
images.allow_outside_root=true lets them through; the bundled demo has no such path."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from chiron.llm.images import BadImage, configure_images
from chiron.utils.paths import PathOutsideRoot, package_path, resolve_in_root

# How a record names each refused image: relative with "..", absolute outside, a symlink out.
ESCAPES = ("dotdot", "absolute", "symlink")


@pytest.fixture(autouse=True)
def image_policy_reset():
    configure_images()
    yield
    configure_images()


@pytest.fixture
def tree(tmp_path) -> dict:
    """<tmp>/root/ with good images (one reached through an inner symlink), <tmp>/outside.png, a link out."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        Image.new("RGB", (32, 32), (len(name) * 20, 90, 40)).save(root / name)
    outside = tmp_path / "outside.png"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(outside)
    (root / "out_link.png").symlink_to(outside)
    (root / "in_link.png").symlink_to(root / "sub" / "c.png")
    refs = {"dotdot": "../outside.png", "absolute": str(outside), "symlink": "out_link.png"}
    return {"root": root, "outside": outside, "refs": refs}


# -- the helper -----------------------------------------------------------------------------------


@pytest.mark.parametrize("escape", ESCAPES)
def test_resolve_in_root_refuses_every_way_out(tree, escape):
    ref = tree["refs"][escape]
    with pytest.raises(PathOutsideRoot) as err:
        resolve_in_root(str(tree["root"]), ref)
    message = str(err.value)
    assert ref in message and str(tree["root"]) in message and "allow_outside_root" in message
    assert isinstance(err.value, ValueError) and isinstance(err.value, BadImage)
    assert err.value.category == "outside_root"


def test_resolve_in_root_accepts_paths_inside_and_resolves_them(tree):
    root = str(tree["root"])
    assert resolve_in_root(root, "a.png") == os.path.realpath(tree["root"] / "a.png")
    assert resolve_in_root(root, "sub/../b.png") == os.path.realpath(tree["root"] / "b.png")
    assert resolve_in_root(root, str(tree["root"] / "a.png")) == os.path.realpath(tree["root"] / "a.png")
    assert resolve_in_root(root, "in_link.png") == os.path.realpath(tree["root"] / "sub" / "c.png")
    # a root that is itself reached through a symlink is resolved the same way
    alias = tree["root"].parent / "alias"
    alias.symlink_to(tree["root"])
    assert resolve_in_root(str(alias), "a.png") == os.path.realpath(tree["root"] / "a.png")
    # a sibling folder whose name starts like the root's is outside
    (tree["root"].parent / "root2").mkdir()
    with pytest.raises(PathOutsideRoot):
        resolve_in_root(root, "../root2/x.png")


@pytest.mark.parametrize("escape", ESCAPES)
def test_allow_outside_root_lets_them_through(tree, escape):
    configure_images(allow_outside_root=True)
    assert resolve_in_root(str(tree["root"]), tree["refs"][escape]) == os.path.realpath(tree["outside"])


# -- the search input -----------------------------------------------------------------------------


def _case_line(rid: str, refs: list[str]) -> str:
    return json.dumps({"rid": rid, "images": refs, "messages": [
        {"role": "user", "content": "**Question:** What is shown?"},
        {"role": "assistant", "content": "**Correct Answer:** A lesion"}]})


def _cases(tmp_path, tree) -> Path:
    path = tmp_path / "cases.jsonl"
    lines = [_case_line("good", ["a.png", "in_link.png"])]
    lines += [_case_line(escape, ["a.png", tree["refs"][escape]]) for escape in ESCAPES]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_search_input_refuses_cases_whose_image_leaves_the_root(tmp_path, tree):
    from chiron.search.case import BadRecord, Case, read_cases
    from chiron.search.records import bad_record_failure

    out = {r.rid: r for r in read_cases(str(_cases(tmp_path, tree)), str(tree["root"]))}
    assert isinstance(out["good"], Case)
    for escape in ESCAPES:
        bad = out[escape]
        assert isinstance(bad, BadRecord) and bad.kind == "bad_image" and "outside its root" in bad.reason
        failure = bad_record_failure(bad)
        assert failure["kind"] == "bad_image" and failure["retryable"] is False

    configure_images(allow_outside_root=True)
    assert all(isinstance(r, Case) for r in read_cases(str(_cases(tmp_path, tree)), str(tree["root"])))


# -- the corpus, hence MMRP Parts 2 and 3 -------------------------------------------------------


def _corpus(tmp_path, tree) -> list:
    from chiron.data.corpus import read_corpus

    group = {"modality": "CT", "caption": "A finding.",
             "images": [{"path": "a.png"}, *({"path": tree["refs"][e]} for e in ESCAPES)]}
    line = {"id": "c1", "annotated": True, "discussion": "d", "image_groups": [group]}
    reference = {"rid": "r1", "images": [tree["refs"]["dotdot"]], "caption": ["According to the <image>, x."],
                 "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps(reference) + "\n")
    return list(read_corpus(str(path), str(tree["root"])))


def test_corpus_marks_images_outside_the_root_and_the_builders_drop_them(tmp_path, tree, monkeypatch):
    from chiron.mmrp import part2, part3

    case, reference = _corpus(tmp_path, tree)
    images = case.image_groups[0].images
    assert not images[0].refused and [bool(i.refused) for i in images[1:]] == [True, True, True]
    assert reference.image_groups[0].images[0].refused
    for image in images[1:]:
        with pytest.raises(PathOutsideRoot):
            image.check()

    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k))
    result = part2.align_case(case, part2.Part2Settings(min_side=8))
    refs = [tree["refs"][e] for e in ESCAPES]
    assert result.unreadable == refs and result.unreadable_why == dict.fromkeys(refs, "outside_root")
    groups, unreadable, _ = part3._readable_groups(case)
    assert groups == [("A finding.", ["a.png"])] and unreadable == refs
    assert not any("outside" in p for p in opened)  # never opened
    outcome = asyncio.run(part3.write_case_vqa(reference, "doctor_to_doctor", None, part3.Part3Settings()))
    assert (outcome.status, outcome.reason) == ("skipped", "all images unreadable")

    configure_images(allow_outside_root=True)
    case, _ = _corpus(tmp_path, tree)
    assert not any(i.refused for i in case.image_groups[0].images)


# -- a public VQA set adapter -------------------------------------------------------------------


def _vqa_rad(tree) -> Path:
    from chiron.vqa_sets.vqa_rad import ANNOTATIONS, IMAGE_DIR

    root = tree["root"]
    (root / IMAGE_DIR).mkdir()
    Image.new("RGB", (32, 32)).save(root / IMAGE_DIR / "good.jpg")
    (root / IMAGE_DIR / "link.jpg").symlink_to(tree["outside"])
    names = {"good": "good.jpg", "dotdot": "../../outside.png", "absolute": str(tree["outside"]),
             "symlink": "link.jpg"}
    rows = [{"qid": key, "phrase_type": "freeform", "image_name": name, "question": "Is it?", "answer": "yes",
             "answer_type": "CLOSED"} for key, name in names.items()]
    (root / ANNOTATIONS).write_text(json.dumps(rows))
    return root


def test_vqa_set_rows_with_an_image_outside_the_root(tree):
    from chiron.vqa_sets import load_vqa_set

    root = str(_vqa_rad(tree))
    samples = load_vqa_set("vqa_rad", root)
    assert [s.id for s in samples] == ["vqa_rad/train/good"]
    assert samples.report.skipped == {"image outside root": 3}
    kept = list(load_vqa_set("vqa_rad", root, keep_refused=True))  # the evaluation's way
    assert len(kept) == 4 and not kept[0].meta.get("refused_images")
    assert all(len(s.meta["refused_images"]) == 1 for s in kept[1:])
    configure_images(allow_outside_root=True)
    assert len(list(load_vqa_set("vqa_rad", root))) == 4


# -- an eval loader, and the runner ----------------------------------------------------------------


def test_eval_items_with_an_image_outside_the_root_become_bad_image_without_a_call(tmp_path, tree):
    from scripted import ScriptedBackend

    from chiron.eval.benchmarks import load_benchmark
    from chiron.eval.report import benchmark_metrics
    from chiron.eval.runner import EvalRunner
    from chiron.llm.cache import CallCache
    from chiron.llm.client import CachedModel
    from chiron.llm.ledger import Ledger
    from chiron.llm.spec import ModelSpec

    root = tree["root"]
    names = {"1": "a.png", **{str(k + 2): tree["refs"][e] for k, e in enumerate(ESCAPES)}}
    (root / "eval_data.json").write_text(json.dumps([
        {"id": i, "img_name": [n], "question": "Is it?", "answer": "Yes.", "answer_type": "CLOSED"}
        for i, n in names.items()]))
    items = load_benchmark("reference", str(root))
    assert [i.id for i in items] == ["1", "2", "3", "4"]  # nothing skipped
    assert not items[0].meta.get("refused_images") and all(i.meta["refused_images"] for i in items[1:])
    seen = []
    backend = ScriptedBackend("m", lambda r: seen.extend(p for m in r.messages for p in m.images)
                              or "### The final answer is: yes")
    model = CachedModel(ModelSpec(name="m", backend="openai", model="m"), backend, CallCache(str(tmp_path / "c")),
                        Ledger(), "model")
    rows = asyncio.run(EvalRunner(model=model, progress=False).run("reference", items, str(tmp_path / "out")))
    assert [r["status"] for r in rows] == ["correct", "bad_image", "bad_image", "bad_image"]
    assert all(r["bad_image"]["category"] == "outside_root" for r in rows[1:])
    assert backend.calls == 1 and seen == [os.path.realpath(root / "a.png")]
    metrics = benchmark_metrics(rows, num_bootstraps=50)
    assert metrics["n"] == 4 and metrics["bad_images"] == 3 and metrics["accuracy"] == 0.25

    configure_images(allow_outside_root=True)
    assert not any(i.meta.get("refused_images") for i in load_benchmark("reference", str(root)))


# -- the mix ----------------------------------------------------------------------------------


@pytest.mark.parametrize("escape", ESCAPES)
def test_mix_part3_records_and_vqa_rows_outside_their_root_are_dropped(tmp_path, tree, escape):
    from omegaconf import OmegaConf

    from chiron.data_mix import job
    from chiron.data_mix.draw import ImageScreen
    from chiron.mmrp import part3

    record = {"rid": "r", "method": "mics", "question": "Q?", "images": [tree["refs"][escape]],
              "reasoning": "### Step 1: look.\n### The final answer is: yes", "path_scores": [1.0]}
    with pytest.raises(PathOutsideRoot):
        part3.reasoning_sample(record, str(tree["root"]))
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({**record, "rid": "ok", "images": ["a.png"]}) + "\n" + json.dumps(record) + "\n")
    cfg = OmegaConf.create({"mix_inputs": {"part3_records": str(records), "part3_method": "mics",
                                           "part3_image_root": str(tree["root"])},
                            "qc": {"enabled": False}})
    screen = ImageScreen()
    samples, _ = job._part3_samples(cfg, screen)
    assert [s.meta["rid"] for s in samples] == ["ok"]
    assert screen.summary(part3.SOURCE)["by_category"] == {"outside_root": 1}

    # a VQA row whose image leaves its copy reaches the mix's screen and is dropped there
    root = _vqa_rad(tree)
    cfg.vqa_sets = {"roots": {"vqa_rad": str(root)}, "split": "train"}
    loaded, _ = job.load_source(cfg, "vqa_rad", screen)
    assert len(loaded) == 4
    usable = [s for s in loaded if screen.usable(s)]
    assert [s.id for s in usable] == ["vqa_rad/train/good"]
    assert screen.summary("vqa_rad")["by_category"] == {"outside_root": 3}


# -- the bundled demo has no path outside its root ---------------------------------------------------


def test_the_bundled_demo_stays_inside_its_roots():
    from test_demo_vqa_sets import BUNDLE, EXPECTED, FOLDERS

    from chiron.data.corpus import BadCase, read_corpus
    from chiron.eval.benchmarks import load_benchmark
    from chiron.search.case import BadRecord, read_cases
    from chiron.vqa_sets import load_vqa_set

    images = package_path("data/demo/images")
    cases = list(read_cases(package_path("data/demo/cases.jsonl"), images))
    assert len(cases) == 12 and not any(isinstance(c, BadRecord) for c in cases)
    bad = [b for b in read_cases(package_path("data/demo/bad_cases.jsonl"), images) if isinstance(b, BadRecord)]
    assert not any("outside its root" in b.reason for b in bad)
    corpus = list(read_corpus(package_path("data/demo/corpus.jsonl"), images))
    assert not any(isinstance(c, BadCase) for c in corpus)
    assert not any(i.refused for c in corpus for g in c.image_groups for i in g.images)
    for name, split in EXPECTED:
        samples = load_vqa_set(name, str(BUNDLE / FOLDERS[name]), split=split, keep_refused=True)
        assert not any(s.meta.get("refused_images") for s in samples), (name, split)
    demo = load_benchmark("demo", None)
    assert len(demo) == 22 and not any(i.meta.get("refused_images") for i in demo)
