"""The embedded default: `python run.py` = MICS on the bundled demo with tiny local models,
offline on CPU, through the real hf backend (here on 3 cases to stay quick)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from chiron.utils.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]


def test_default_run_searches_the_demo_with_tiny_models(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}", "run_name=demo",
           "data.limit=3", "progress=false"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "search" / "runs" / "demo" / "search"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cases_ok"] + summary["cases_failed"] == 3
    usage = summary["usage_all_runs"]
    # every role ran through the in-process backend: mentors wrote steps, interns answered, the judge ruled
    for role in ("mentor/tiny-mentor-a", "mentor/tiny-mentor-b", "intern/tiny-intern-a", "judge/tiny-judge"):
        assert usage[role]["calls"] > 0, role
    rows = list(read_jsonl(str(out / "records.jsonl"))) + list(read_jsonl(str(out / "failed.jsonl")))
    assert {r["rid"] for r in rows} == {"demo-001", "demo-002", "demo-003"}
    assert (tmp_path / "cache" / "tiny_models" / "internvl-judge-seed5" / "config.json").exists()
    saved = (tmp_path / "search" / "runs" / "demo" / ".hydra" / "config.yaml").read_text()
    assert "tiny-mentor-a" in saved
    # a second identical run is served from the cache and skips finished cases
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    summary2 = json.loads((out / "summary.json").read_text())
    assert summary2["this_run"]["searched"] == summary2["retryable_failures"] == 0
