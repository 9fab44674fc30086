"""Shards searched separately (data.shard / data.num_shards) merge into one search folder."""

import asyncio
import json
import os

from chiron.search.case import read_cases
from chiron.search.merge import run as merge_task
from chiron.utils.jsonl import read_jsonl
from conftest import compose_config
from scripted import Script
from test_runner import TABLE, runner, write_cases


def test_shards_merge_into_one_folder(tmp_path):
    path, root = write_cases(tmp_path, n=5, extra_lines=["{broken"])
    sweep = tmp_path / "multiruns" / "big"
    s = Script(tmp_path / "s", table=TABLE)
    for shard in range(2):
        out = str(sweep / str(shard) / "search")
        asyncio.run(runner(s, out).run(read_cases(path, root, shard=shard, num_shards=2)))
    cfg = compose_config(["task=search_merge", f"merge.sweep_dir={sweep}", f"+paths.run_dir={tmp_path / 'merged'}"])
    summary = merge_task(cfg)
    out = tmp_path / "merged" / "search"
    assert summary["cases_ok"] == 5 and summary["cases_failed"] == 1
    assert sorted(r["rid"] for r in read_jsonl(str(out / "records.jsonl"))) == [f"case{i}" for i in range(5)]
    assert len(list(read_jsonl(str(out / "reference.jsonl")))) == 5
    saved = json.loads((out / "summary.json").read_text())
    assert saved["usage_all_runs"]["mentor/A"]["calls"] == 10  # the shards' usage adds up
    assert len(summary["merged_from"]) == 2 and all(os.path.isdir(d) for d in summary["merged_from"])


def test_merge_without_inputs_says_what_to_set(tmp_path):
    import pytest

    cfg = compose_config(["task=search_merge", f"+paths.run_dir={tmp_path}"])
    with pytest.raises(ValueError, match="merge.sweep_dir"):
        merge_task(cfg)
