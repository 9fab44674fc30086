"""MMRP end to end on the bundled demo corpus with tiny local models, offline on CPU, through
`python run.py`: Parts 1-3 -> search over the Part 3 pairs -> QC report -> per-stage mix.
Each job finds its upstream job's output through `${latest:...}`, as a user's runs do."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chiron.data.sample import validate_sample
from chiron.utils.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 6  # corpus cases given to the LLM-written parts


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return tmp_path_factory.mktemp("mmrp_e2e")


def run(outputs, *overrides):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={outputs}", "run_name=e2e", "progress=false",
           *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def summary(outputs, task, part):
    return json.loads((outputs / task / "runs" / "e2e" / part / "summary.json").read_text())


def test_parts_search_qc_and_mix(outputs):
    run(outputs, "task=build_part1", f"corpus.limit={LIMIT}")
    p1 = summary(outputs, "build_part1", "part1")
    assert sum(p1["cases"].values()) == LIMIT and p1["pairs"] > 0
    assert p1["usage_all_runs"]["writer/tiny-qa-writer"]["calls"] == p1["cases"]["ok"]
    samples1 = list(read_jsonl(str(outputs / "build_part1/runs/e2e/part1/samples.jsonl")))
    assert len(samples1) == p1["pairs"]

    run(outputs, "task=build_part2")
    p2 = summary(outputs, "build_part2", "part2")
    assert p2["by_format"]["coarse"] > 0 and p2["by_format"]["precise"] > 0
    # the corpus's deliberate defects are caught, none is fatal
    for reason in ("unreadable image", "duplicate image (same MD5)", "image under 196x196",
                   "group with more than 10 keyframes"):
        assert p2["dropped_by_reason"].get(reason), reason

    run(outputs, "task=build_part3", f"corpus.limit={LIMIT}")
    p3 = summary(outputs, "build_part3", "part3")
    assert p3["pairs"] > 0 and set(p3["by_scenario"]) <= {"patient_to_doctor", "doctor_to_doctor",
                                                           "intern_to_senior"}

    run(outputs, "task=search", "data=mmrp_part3")  # reads the newest build_part3 output
    searched = summary(outputs, "search", "search")
    assert searched["cases_ok"] + searched["cases_failed"] == p3["pairs"]
    assert searched["cases_ok"] > 0

    run(outputs, "task=qc_report")
    trends = json.loads((outputs / "qc_report/runs/e2e/qc/trends.json").read_text())
    assert trends["qc"]["inputs"]["mics"]["n"] == searched["cases_ok"]
    assert (outputs / "qc_report/runs/e2e/qc/figure4_trends.png").stat().st_size > 0

    run(outputs, "task=build_mix", "qc=off")  # QC off: every searched path may enter Part 3
    mix_dir = outputs / "build_mix/runs/e2e/mix"
    manifest = json.loads((mix_dir / "manifest.json").read_text())
    assert set(manifest["stages"]) == {"stage1", "stage2", "stage3"}
    for stage, info in manifest["stages"].items():
        rows = list(read_jsonl(str(mix_dir / f"{stage}.jsonl")))
        assert len(rows) == info["total"] == sum(s["target"] for s in info["sources"].values())
        for row in rows:
            validate_sample(row)
        # stage l draws MMRP Parts 1..l
        parts = {s for s in info["sources"] if s.startswith("mmrp_part")}
        assert parts == {f"mmrp_part{i}" for i in range(1, int(stage[-1]) + 1)}
    assert manifest["inputs"]["mmrp_part3"]["kept"] == searched["cases_ok"]
    assert (mix_dir / "internvl" / "stage3.jsonl").exists() and (mix_dir / "sharegpt" / "dataset_info.json").exists()
