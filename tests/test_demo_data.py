"""The bundled demo data (chiron/data/demo) is well formed and exactly what make_demo.py writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chiron.data import make_demo

DEMO = Path(make_demo.__file__).resolve().parent / "demo"
IMAGES = DEMO / "images"
REQUIRED = ("rid", "messages", "images", "title", "certainty", "presentation", "age_label",
            "gender_label", "caption", "scenario")
_GROUP_DIR = re.compile(r"^(?P<rid>[^/]+)/(?P<modality>[a-z]+)_group(?P<k>\d+)/(?P<i>\d+)\.png$")


def _files(root: Path) -> dict[str, bytes]:
    # vqa_sets/ and train_mix/ are written by their own generators (make_demo_vqa,
    # make_demo_train_mix) and checked by their own tests; source/ is the generators' input.
    own_generators = {"vqa_sets", "train_mix", "source"}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not own_generators & set(p.relative_to(root).parts)}


def _cases() -> list[dict]:
    with open(DEMO / "cases.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_generator_is_deterministic(tmp_path):
    make_demo.generate(tmp_path / "a")
    make_demo.generate(tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_bundled_files_match_a_fresh_generation(tmp_path):
    make_demo.generate(tmp_path)
    fresh, bundled = _files(tmp_path), _files(DEMO)
    assert sorted(fresh) == sorted(bundled)
    for name, data in fresh.items():
        if data == bundled[name]:
            continue
        # Text files must match byte for byte. A PNG may only differ in its compressed stream
        # (another zlib build); its pixels must still agree.
        assert name.endswith(".png") and "demo-bad" not in name, f"{name} differs from the bundled copy"
        a = np.asarray(Image.open(tmp_path / name))
        b = np.asarray(Image.open(DEMO / name))
        assert a.shape == b.shape, name
        assert np.mean(a != b) < 0.005, f"{name}: pixels differ from the bundled copy"


def test_cases_parse_and_have_required_fields():
    lines = (DEMO / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12
    cases = [json.loads(line) for line in lines]
    assert len({c["rid"] for c in cases}) == 12
    for c in cases:
        for key in REQUIRED:
            assert c.get(key), f"{c.get('rid')}: missing {key}"
        user, assistant = c["messages"]
        assert user["role"] == "user" and user["content"].startswith("**Question:** ")
        assert assistant["role"] == "assistant" and assistant["content"].startswith("**Correct Answer:** ")
        assert c["scenario"] in make_demo.SCENARIOS
        assert c["certainty"].startswith("Diagnosis ")
        assert 1 <= len(c["images"]) <= 4


def test_scenarios_are_balanced_and_patient_answers_allowed():
    cases = _cases()
    counts = {s: sum(c["scenario"] == s for c in cases) for s in make_demo.SCENARIOS}
    assert counts == {s: 4 for s in make_demo.SCENARIOS}
    for c in cases:
        answer = c["messages"][1]["content"].removeprefix("**Correct Answer:** ")
        if c["scenario"] == "patient_to_doctor":
            assert answer in make_demo.PATIENT_ANSWERS, c["rid"]
        else:
            assert answer not in make_demo.PATIENT_ANSWERS and len(answer.split()) <= 8, c["rid"]


def test_every_image_exists_and_decodes():
    for c in _cases():
        for ref in c["images"]:
            path = IMAGES / ref
            assert path.is_file(), ref
            assert path.stat().st_size < 40_000, f"{ref} is larger than expected"
            with Image.open(path) as im:
                im.load()
                assert im.size == (make_demo.SIZE, make_demo.SIZE)


def test_one_caption_per_modality_group():
    for c in _cases():
        groups: dict[str, int] = {}
        for ref in c["images"]:
            m = _GROUP_DIR.match(ref)
            assert m and m["rid"] == c["rid"], ref
            key = f"{m['modality']}_group{m['k']}"
            groups[key] = groups.get(key, 0) + 1
        assert len(c["caption"]) == len(groups), c["rid"]
        ordered = sorted(groups, key=lambda g: int(g.rsplit("group", 1)[1]))
        for caption, group in zip(c["caption"], ordered):
            head = "According to the " + "<image>\n" * groups[group] + ", "
            assert caption.startswith(head), f"{c['rid']} {group}: caption does not match its image count"
            assert len(caption) > len(head) + 40


def test_demo_covers_modalities_and_multi_group_cases():
    cases = _cases()
    modalities = {_GROUP_DIR.match(ref)["modality"] for c in cases for ref in c["images"]}
    assert {"ct", "mri", "xray", "ultrasound", "mammography", "dsa"} <= modalities
    assert sum(len(c["caption"]) > 1 for c in cases) >= 2


def test_bundle_stays_small():
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert total < 1_000_000


def test_bad_cases_are_broken_in_the_four_intended_ways():
    lines = (DEMO / "bad_cases.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])
    no_messages, missing_image, corrupt_image = (json.loads(line) for line in lines[1:])
    assert "messages" not in no_messages and (IMAGES / no_messages["images"][0]).is_file()
    assert not (IMAGES / missing_image["images"][0]).exists()
    corrupt = IMAGES / corrupt_image["images"][0]
    assert corrupt.is_file() and corrupt.stat().st_size > 0
    with pytest.raises(Exception):
        with Image.open(corrupt) as im:
            im.load()


def test_demo_reads_through_the_search_input_parser():
    case_mod = pytest.importorskip("chiron.search.case")
    good = list(case_mod.read_cases(str(DEMO / "cases.jsonl"), str(IMAGES)))
    assert len(good) == 12 and all(isinstance(c, case_mod.Case) for c in good)
    bad = list(case_mod.read_cases(str(DEMO / "bad_cases.jsonl"), str(IMAGES)))
    assert len(bad) == 4 and all(isinstance(b, case_mod.BadRecord) for b in bad)
    reasons = [b.reason for b in bad]
    assert "invalid JSON" in reasons[0]
    assert "messages" in reasons[1]
    assert "not found" in reasons[2]
    assert "unreadable" in reasons[3]
