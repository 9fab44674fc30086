"""The bundled fictional VQA stand-ins (chiron/data/demo/vqa_sets) load through every adapter
without a skipped row, match a fresh run of make_demo_vqa.py, and conf/vqa_sets/demo.yaml finds them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT, compose_config
from omegaconf import OmegaConf
from PIL import Image

from chiron.data import make_demo_vqa
from chiron.data.sample import validate_sample
from chiron.utils.paths import register_resolvers
from chiron.vqa_sets import VQA_SETS, load_vqa_set

BUNDLE = Path(make_demo_vqa.__file__).resolve().parent / "demo" / "vqa_sets"
FOLDERS = {"vqa_rad": "VQA_RAD", "slake": "Slake1.0", "path_vqa": "pvqa", "pmc_vqa": "PMC-VQA",
           "pubmedvision_alignment": "PubMedVision", "pubmedvision_instruction": "PubMedVision"}
# (set, split) -> (rows read, samples kept); the difference is rows left out on purpose
# (VQA-RAD's other split in the same file, SLAKE's Chinese questions), never skipped ones.
EXPECTED = {
    ("vqa_rad", "train"): (16, 12), ("vqa_rad", "test"): (16, 4),
    ("slake", "train"): (12, 10), ("slake", "validate"): (3, 3), ("slake", "test"): (3, 3),
    ("path_vqa", "train"): (10, 10), ("path_vqa", "val"): (3, 3), ("path_vqa", "test"): (3, 3),
    ("pmc_vqa", "train"): (10, 10), ("pmc_vqa", "test"): (3, 3), ("pmc_vqa", "test_clean"): (2, 2),
    ("pmc_vqa", "train_2"): (4, 4), ("pmc_vqa", "test_2"): (2, 2),
    ("pubmedvision_alignment", "train"): (10, 10), ("pubmedvision_instruction", "train"): (10, 10),
}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_set_and_split_is_bundled():
    assert set(FOLDERS) == set(VQA_SETS)
    assert {(name, split) for name, adapter in VQA_SETS.items() for split in adapter.splits} == set(EXPECTED)


@pytest.mark.parametrize("name,split", sorted(EXPECTED), ids=lambda v: str(v))
def test_bundled_set_loads_without_skips(name, split):
    samples = load_vqa_set(name, str(BUNDLE / FOLDERS[name]), split=split, check_images=True)
    got = list(samples)
    rows, kept = EXPECTED[(name, split)]
    assert samples.report.n_skipped == 0, samples.report.summary()
    assert (samples.report.rows, samples.report.samples, len(got)) == (rows, kept, kept)
    assert samples.report.filtered == rows - kept
    assert len({s.id for s in got}) == len(got)
    for sample in got:
        validate_sample(sample.to_json())
        assert sample.source == name and sample.id.startswith(f"{name}/{split}/")
        assert sample.images and all(os.path.isabs(p) and os.path.isfile(p) for p in sample.images)


def test_bundle_exercises_the_adapters_special_cases():
    rad = list(load_vqa_set("vqa_rad", str(BUNDLE / "VQA_RAD")))
    assert any(s.messages[1]["content"] == "2" for s in rad)  # an integer answer becomes text
    slake = list(load_vqa_set("slake", str(BUNDLE / "Slake1.0"), languages=None))
    assert {s.meta["q_lang"] for s in slake} == {"en", "zh"}
    instruction = list(load_vqa_set("pubmedvision_instruction", str(BUNDLE / "PubMedVision")))
    assert any(len(s.messages) > 2 for s in instruction) and any(len(s.images) == 2 for s in instruction)
    pmc = list(load_vqa_set("pmc_vqa", str(BUNDLE / "PMC-VQA"), split="train_2"))
    assert all(s.meta.get("caption") for s in pmc)


def test_images_are_small_greyscale_jpegs():
    images = sorted(BUNDLE.rglob("*.jpg"))
    assert images
    for path in images:
        with Image.open(path) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "L", (224, 224)), path
            assert not im.getexif()


def test_generator_is_deterministic(tmp_path):
    make_demo_vqa.generate(tmp_path / "a")
    make_demo_vqa.generate(tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_bundled_files_match_a_fresh_generation(tmp_path):
    make_demo_vqa.generate(tmp_path)
    fresh, bundled = _files(tmp_path), _files(BUNDLE)
    assert sorted(fresh) == sorted(bundled)
    stale = [name for name in fresh if fresh[name] != bundled[name]]
    assert not stale, f"regenerate with python -m chiron.data.make_demo_vqa: {stale}"


def test_bundle_is_small_and_says_it_is_fictional():
    assert sum(len(data) for data in _files(BUNDLE).values()) <= 600_000
    readme = (BUNDLE / "README.md").read_text(encoding="utf-8")
    assert "fictional" in readme.lower()
    for adapter in VQA_SETS.values():
        assert adapter.url in readme


def test_demo_config_roots_resolve_to_the_bundle():
    register_resolvers()
    conf = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "vqa_sets" / "demo.yaml"), resolve=True)
    assert conf["split"] == "train" and set(conf["roots"]) == set(VQA_SETS)
    for name, root in conf["roots"].items():
        assert os.path.isdir(root) and Path(root).resolve() == (BUNDLE / FOLDERS[name]).resolve(), name
    composed = compose_config(["vqa_sets=demo"]).vqa_sets
    assert OmegaConf.to_container(composed, resolve=True) == conf
