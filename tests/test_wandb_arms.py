"""A two-arm sweep's W&B record, offline, read back from the runs' transaction logs: every run names its
arm and swept keys, a quantity has one name in every run type, each arm has one eval run, the example
table's images lie in the eval run's folder, the arm's `pipeline` run holds the composed config, and
no secret is written anywhere."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from chiron.pipeline.stages import STAGES

wandb = pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-test-SECRET123"
ARMS = ("stage1", "stage12")  # curriculum=...: each arm trains and evaluates; part 2 and the mix are shared


def records(path: Path):
    """The records of a `.wandb` log: W&B's LevelDB-style log of 32 KiB blocks, each record cut into
    chunks with a 7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last)."""
    data, pos, parts = path.read_bytes(), 7, b""  # 7: the ":W&B" header, magic and version
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if left < 7 or (length == 0 and kind == 0):  # block trailer or padding
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(parts)
            yield record


def _value(value_json: str):
    value = json.loads(value_json)
    wrapped = isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}
    return value["value"] if wrapped else value


def read_run(folder: Path) -> dict:
    run = {"folder": folder, "config": {}, "summary": {}, "history": set(), "metrics": [], "artifacts": []}
    for record in records(next(folder.glob("run-*.wandb"))):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(name=record.run.display_name, job_type=record.run.job_type, group=record.run.run_group)
            run["config"].update({i.key: _value(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            run["config"].update({i.key: _value(i.value_json) for i in record.config.update})
        elif kind == "summary":
            run["summary"].update({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                   for i in record.summary.update})
        elif kind == "history":
            run["history"].update(i.key or "/".join(i.nested_key) for i in record.history.item)
        elif kind == "metric":
            run["metrics"].append((record.metric.glob_name or record.metric.name, record.metric.step_metric))
        elif kind == "artifact":
            run["artifacts"].append(record.artifact)
    return run


def numeric_eval_metrics(run: dict, stage: str = "eval") -> dict:
    """The <stage>/... numbers of a run's summary (not those W&B keeps about the example table)."""
    return {k: v for k, v in run["summary"].items()
            if k.startswith(f"{stage}/") and not k.startswith(f"{stage}/examples/")
            and isinstance(v, (int, float)) and not isinstance(v, bool)}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, shared_tiny_models):
    out = tmp_path_factory.mktemp("arms")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="offline",
               OPENAI_API_KEY=SECRET)
    env.pop("WANDB_API_KEY", None)
    # The secret reaches the composed config through an interpolation under an innocent name: only
    # its value gives it away. A small demo without MMRP Parts 1 and 3 (no writer, no search) nor the
    # MICS-Score of the model's own paths (no interns to build).
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"paths.output_dir={out}",
           f"logger.save_dir={out / 'wb'}", f"paths.tiny_model_dir={shared_tiny_models}", "run_name=arms",
           "progress=false", "logger=wandb", "corpus.limit=8", "data_mix.scale=0.00003",
           "data_mix.drop_sources=[mmrp_part1,mmrp_part3]", "eval.limit=2", "eval.own_path.benchmarks=[]",
           "train.num_workers=0", "+notes=${oc.env:OPENAI_API_KEY}", f"curriculum={','.join(ARMS)}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs = [read_run(folder) for folder in sorted((out / "wb" / "wandb").glob("offline-run-*"))]
    return out, runs


def arm_of(run: dict) -> str:
    return run["config"]["arm_overrides"]["curriculum"]


def test_every_run_names_its_arm_and_swept_keys(sweep):
    _, runs = sweep
    assert {r["job_type"] for r in runs} - {"base_eval"} == {"part2", "mix", "train", "eval", "pipeline"}
    for run in runs:
        config = run["config"]
        assert {"arm", "experiment", "arm_overrides", "stage"} <= set(config), run["name"]
        assert config["arm_overrides"]["curriculum"] in ARMS and f"curriculum={arm_of(run)}" in config["arm"]
        assert run["name"].startswith(config["arm"]) and len({r["group"] for r in runs}) == 1
    # a stage computed once (part 2, the mix, the base model's eval) is logged once, by the arm that
    # computed it (the first)
    for stage in ("part2", "mix", *(["base_eval"] if "base_eval" in STAGES else [])):
        [shared] = [r for r in runs if r["job_type"] == stage]
        assert arm_of(shared) == ARMS[0]
        assert shared["config"]["stage"] == stage and shared["config"]["stage_key"]
    # the Lightning runs: one per curriculum stage, named <arm>/train/<stage>, loss against the trainer's step
    fits = [r for r in runs if r["job_type"] == "train" and "curriculum_stage" in r["config"]]
    assert sorted((arm_of(r), r["config"]["curriculum_stage"]) for r in fits) == [
        ("stage1", "stage1"), ("stage12", "stage1"), ("stage12", "stage2")]
    for fit in fits:
        assert fit["name"] == f"{fit['config']['arm']}/train/{fit['config']['curriculum_stage']}"
        assert fit["config"]["stage"] == "train" and fit["config"]["stage_key"]
        assert ("train/*", "trainer/global_step") in fit["metrics"]


def test_one_eval_run_per_arm_with_the_pipeline_runs_metric_names(sweep):
    _, runs = sweep
    evals = [r for r in runs if r["job_type"] == "eval"]
    assert sorted(arm_of(r) for r in evals) == sorted(ARMS)
    for run in evals:
        [pipeline] = [r for r in runs if r["job_type"] == "pipeline" and arm_of(r) == arm_of(run)]
        assert run["name"] == f"{run['config']['arm']}/eval" and run["config"]["stage"] == "eval"
        assert "eval/examples/_type" in run["history"] and run["summary"]["eval/demo/protocol"] == "chiron"
        # one name per quantity: eval/<benchmark>/<path in metrics.json>, in both run types
        names = numeric_eval_metrics(run)
        assert names == numeric_eval_metrics(pipeline)
        assert {"eval/demo/accuracy", "eval/demo/bertscore/mean",
                "eval/demo/protocols/chiron/accuracy"} <= names.keys()
        # the untrained base model's one run (shared by both arms) is no arm's eval run: base_eval/...
        for base in (r for r in runs if r["job_type"] == "base_eval"):
            assert base["config"]["stage"] == "base_eval"
            assert base["name"] == f"{base['config']['arm']}/base_eval"
            assert numeric_eval_metrics(base, "base_eval") == numeric_eval_metrics(pipeline, "base_eval")
            assert "base_eval/demo/accuracy" in base["summary"]
        # the eval run took the stage's artifact from the tracker, and the table's images are in its folder
        [metrics] = [a for a in run["artifacts"] if a.type == "metrics"]
        assert metrics.name == f"eval-{run['config']['stage_key']}"
        [table] = [a for a in run["artifacts"] if a.type == "run_table"]
        images = [e for e in table.manifest.contents if e.path.startswith("media/images/")]
        assert len(images) == 2
        for entry in table.manifest.contents:
            assert Path(entry.local_path).is_file() and Path(entry.local_path).is_relative_to(run["folder"])


def test_pipeline_run_has_the_composed_config_and_no_secret_anywhere(sweep):
    out, runs = sweep
    pipelines = [r for r in runs if r["job_type"] == "pipeline"]
    assert sorted(arm_of(r) for r in pipelines) == sorted(ARMS)
    for run in pipelines:
        composed = run["config"]["composed"]
        assert composed["curriculum"]["name"] == arm_of(run) and composed["model"]["name"] == "tiny"
        assert composed["notes"] == "<redacted>"  # the key's value, pulled in under an innocent name
    for path in (out / "wb").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
