"""`task=search_merge`: join the search folders of shard jobs into one.

    python run.py task=search_merge merge.sweep_dir=outputs/search/multiruns/<name>

takes every `<sweep_dir>/*/search/` (or the folders listed in `merge.inputs`) and writes merged
records, failures, reference export and summary into this run's `search/` folder.
"""

from __future__ import annotations

import glob
import logging
import os

from omegaconf import DictConfig

from chiron.search.runner import FAILED, RECORDS, latest_by_rid, write_summary
from chiron.utils.jsonl import atomic_write_jsonl, read_jsonl
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)


def shard_dirs(sweep_dir: str | None, inputs: list[str]) -> list[str]:
    dirs = [d if os.path.basename(os.path.normpath(d)) == "search" else os.path.join(d, "search") for d in inputs]
    if sweep_dir:
        dirs += sorted(os.path.dirname(p) for p in glob.glob(os.path.join(sweep_dir, "*", "search", RECORDS)))
    missing = [d for d in dirs if not os.path.isdir(d)]
    if missing:
        raise FileNotFoundError(f"search_merge: no search folder at {missing}")
    if not dirs:
        raise ValueError("search_merge: set merge.sweep_dir (a multirun folder) or merge.inputs (run folders)")
    return dirs


def merge_into(dirs: list[str], out_dir: str) -> dict:
    records: dict[str, dict] = {}
    for d in dirs:
        for row in read_jsonl(os.path.join(d, RECORDS)):
            records.setdefault(row["rid"], row)
    failures = latest_by_rid(row for d in dirs for row in read_jsonl(os.path.join(d, FAILED)))
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_jsonl(os.path.join(out_dir, RECORDS), records.values())
    atomic_write_jsonl(os.path.join(out_dir, FAILED), (f for rid, f in failures.items() if rid not in records))
    summary = write_summary(out_dir, None, wall_s=0.0, searched_now=0, skipped=0)
    summary["merged_from"] = dirs
    return summary


def run(cfg: DictConfig) -> dict:
    dirs = shard_dirs(cfg.merge.get("sweep_dir"), list(cfg.merge.get("inputs") or []))
    out_dir = os.path.join(run_dir(cfg), "search")
    summary = merge_into(dirs, out_dir)
    log.info("merged %d shard folders into %s: %d ok, %d failed", len(dirs), out_dir,
             summary["cases_ok"], summary["cases_failed"])
    return summary
