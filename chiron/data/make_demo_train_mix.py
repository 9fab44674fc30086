"""Write the bundled demo training mix (`demo/train_mix/stage{1,2,3}.jsonl`) from a demo build_mix run.

    python -m chiron.data.make_demo_train_mix outputs/build_mix/runs/<run>/mix

It keeps a fixed share of every stage, every source represented, so `task=train` runs offline on a
fresh clone without building the whole MMRP chain first. Image paths are written relative to the
mix folder (they all point into the bundled demo data); the training reader resolves them.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict

from chiron.utils.jsonl import atomic_write_jsonl, read_jsonl
from chiron.utils.paths import package_path

SIZES = {"stage1": 32, "stage2": 32, "stage3": 48}
OUT = "data/demo/train_mix"


def subsample(rows: list[dict], size: int) -> list[dict]:
    """Round-robin over sources in file order: deterministic, and no source is left out."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_source[row["source"]].append(row)
    picked: list[dict] = []
    while len(picked) < min(size, len(rows)):
        for source in sorted(by_source):
            if by_source[source] and len(picked) < size:
                picked.append(by_source[source].pop(0))
    return picked


def relative_images(row: dict, out_dir: str) -> dict:
    row = dict(row)
    row["images"] = [os.path.relpath(p, out_dir) for p in row["images"]]
    return row


def main(mix_dir: str) -> None:
    out_dir = package_path(OUT)
    os.makedirs(out_dir, exist_ok=True)
    for stage, size in SIZES.items():
        rows = subsample(list(read_jsonl(os.path.join(mix_dir, f"{stage}.jsonl"))), size)
        outside = [p for r in rows for p in r["images"] if not p.startswith(package_path("data/demo"))]
        if outside:
            raise ValueError(f"{stage}: images outside the bundled demo data, e.g. {outside[0]}")
        atomic_write_jsonl(os.path.join(out_dir, f"{stage}.jsonl"), [relative_images(r, out_dir) for r in rows])
        print(stage, len(rows), json.dumps(sorted({r["source"] for r in rows})))


if __name__ == "__main__":
    main(sys.argv[1])
