"""The embedded default: `python run.py` = the whole pipeline (MMRP parts, MICS search, QC, mix,
curriculum training, evaluation) on the bundled demo with tiny local models, offline on CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["part1", "part2", "part3", "search", "qc", "mix", "train", "eval", "base_eval"]


def run_default(tmp_path, *overrides):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("WANDB_MODE", None)  # the default logger decides the mode itself: offline without a key, never a prompt
    env.pop("WANDB_API_KEY", None)
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}", "run_name=demo", "progress=false",
           *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


# A smaller corpus and mix keep this in the default suite; qc=off because QC may flag every one of the
# few tiny-model paths (then the mix has no reasoning data and stops, as it should).
SMALL = ["corpus.limit=8", "data_mix.scale=0.0001", "qc=off"]


def test_default_runs_the_whole_pipeline_then_reuses_it(tmp_path):
    proc = run_default(tmp_path, *SMALL)
    report = tmp_path / "pipeline" / "runs" / "demo" / "pipeline" / "report.md"
    assert f"pipeline report: {report}" in proc.stdout
    summary = json.loads((report.parent / "summary.json").read_text())
    assert list(summary["stages"]) == STAGES and not any(s["reused"] for s in summary["stages"].values())
    search = summary["stages"]["search"]["summary"]
    for role in ("mentor/tiny-mentor-a", "mentor/tiny-mentor-b", "intern/tiny-intern-a"):
        assert search["usage_all_runs"][role]["calls"] > 0, role
    assert not any(role.startswith("judge/") for role in search["usage_all_runs"])  # judge=rules asks no model
    assert summary["stages"]["train"]["summary"][-1]["stage"] == "stage3"
    assert summary["metrics"]["demo"]["n"] == 22 and summary["trends"]["qc"]["enabled"] is False
    text = report.read_text()
    assert "| eval |" in text and "beside the paper" in text
    # results live in the stage store; W&B ran offline (no key) without asking anything
    assert (tmp_path / "stages" / "train").is_dir() and list((tmp_path / "wandb").rglob("offline-run-*"))
    assert "tiny-mentor-a" in (tmp_path / "pipeline" / "runs" / "demo" / ".hydra" / "config.yaml").read_text()
    # the same command again reads every stage back: nothing is computed, no model is asked
    run_default(tmp_path, *SMALL)
    again = json.loads((report.parent / "summary.json").read_text())
    assert all(s["reused"] for s in again["stages"].values())
    assert [s["key"] for s in again["stages"].values()] == [s["key"] for s in summary["stages"].values()]


@pytest.mark.slow
def test_embedded_default_as_documented(tmp_path):
    """`python run.py` exactly as the README says (full demo corpus and mix)."""
    proc = run_default(tmp_path)
    assert "pipeline report:" in proc.stdout
    summary = json.loads((tmp_path / "pipeline" / "runs" / "demo" / "pipeline" / "summary.json").read_text())
    assert summary["metrics"]["demo"]["n"] == 22 and summary["stages"]["mix"]["summary"]["stages"]["stage3"]["total"] > 0
    # train=demo learns: measured 7.44 (stage 1's first step) -> 3.64 (stage 3's last), deterministic seeds
    losses = summary["stages"]["train"]["summary"]
    assert losses[0]["first_loss"] - losses[-1]["final_loss"] > 2.0, losses
    assert summary["base_metrics"]["demo"]["n"] == 22  # the untrained base, beside the trained adapter
