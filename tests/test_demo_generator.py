"""The whole bundled demo tree (chiron/data/demo) is exactly what its generators write from its source
data (demo/source/*.yaml): no file missing, none extra, every one the same bytes.

test_demo_data.py and test_demo_vqa_sets.py each compare one generator's part of the tree. This test
runs both once into a tree laid out like the bundle and accounts for every bundled file, so a stray or
stale file anywhere fails here; it also checks the source data itself (strict keys, shipped with the
package). One run of both generators takes a few seconds, so nothing here is marked slow.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chiron.data import make_demo, make_demo_vqa
from chiron.data.make_demo_train_mix import SIZES as TRAIN_MIX_STAGES

DEMO = Path(make_demo.__file__).resolve().parent / "demo"
SOURCE = DEMO / "source"
ROOT = Path(__file__).resolve().parents[1]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("demo")
    make_demo.generate(out)
    make_demo_vqa.generate(out / "vqa_sets")  # where the bundle keeps it (make_demo_vqa.DEFAULT_OUT)
    return _files(out)


def test_every_bundled_file_comes_from_a_generator_or_is_source(fresh):
    # train_mix/ is the one part no generator here can rewrite: make_demo_train_mix.py copies it out of a
    # full build_mix run. Only the files it writes are let through, so a stray file there still fails.
    train_mix = {f"train_mix/{stage}.jsonl" for stage in TRAIN_MIX_STAGES}
    source = {f"source/{p.name}" for p in SOURCE.iterdir()}
    bundled = set(_files(DEMO))
    assert train_mix <= bundled and source <= bundled
    assert sorted(bundled - train_mix - source) == sorted(fresh)


def test_every_generated_file_matches_the_bundle(fresh):
    bundled = _files(DEMO)
    differ = [name for name, data in fresh.items() if data != bundled.get(name)]
    # A PNG written by another zlib build compresses the same pixels into other bytes (hence the
    # bundle test in test_demo_data.py allows it); that is no change of the data, so such a PNG must
    # still decode to exactly the bundled pixels. Everything else, the broken demo-bad PNG included,
    # must be the same bytes.
    differ = [name for name in differ
              if not (name.endswith(".png") and not name.startswith("images/demo-bad")
                      and _same_pixels(DEMO / name, fresh[name]))]
    assert not differ, ("regenerate with python -m chiron.data.make_demo and python -m "
                        f"chiron.data.make_demo_vqa --out chiron/data/demo/vqa_sets: {differ}")


def _same_pixels(path: Path, data: bytes) -> bool:
    with Image.open(path) as old, Image.open(io.BytesIO(data)) as new:
        same_shape = (old.mode, old.size) == (new.mode, new.size)
        return same_shape and np.array_equal(np.asarray(old), np.asarray(new))


def test_source_data_ships_with_the_package():
    # The generators read demo/source at run time, so an installed package must carry it.
    # (Read with a pattern, not tomllib: that is Python 3.11+, the project supports 3.10.)
    section = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("[tool.setuptools.package-data]")[1]
    patterns = ast.literal_eval(re.search(r"^chiron\s*=\s*(\[.*?\])", section, re.MULTILINE | re.DOTALL)[1])
    package = ROOT / "chiron"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    read = {make_demo.SOURCE / "cases.yaml", make_demo.SOURCE / "corpus.yaml", make_demo_vqa.SOURCE}
    assert read <= shipped and read == set(SOURCE.iterdir())  # and no source file nobody reads


def test_a_misspelt_source_key_is_refused(tmp_path, monkeypatch):
    # An unknown key would otherwise be ignored and its text silently left out of the output.
    text = (SOURCE / "corpus.yaml").read_text(encoding="utf-8")
    (tmp_path / "corpus.yaml").write_text(text.replace("  discussion:", "  discusion:", 1), encoding="utf-8")
    monkeypatch.setattr(make_demo, "SOURCE", tmp_path)
    make_demo._source.cache_clear()
    try:
        with pytest.raises(ValueError, match="discusion"):
            make_demo._source("corpus")
    finally:
        make_demo._source.cache_clear()  # later tests must read the real source again
