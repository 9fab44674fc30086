"""The pipeline's W&B record, offline: a run per computed stage with its artifact, one `pipeline` run
per arm holding the summary the reports read, the sweep's group on every run, and no secret anywhere."""


import pytest

from chiron.pipeline.identity import ArmIdentity
from chiron.pipeline.tracking import StageTracker
from chiron.utils.loggers import REDACTED, flat_metrics, scrub_secrets
from chiron.utils.stage_artifacts import artifact_name

wandb = pytest.importorskip("wandb")


def offline_logs(save_dir) -> list[bytes]:
    """The raw bytes of each offline run's log (protobuf records: strings are stored as they are).

    `run.finish()` can return before W&B's service has written the last run's records (the log then
    holds its header only, now and then): shutting the service down writes them all."""
    wandb.teardown()
    return [p.read_bytes() for p in sorted((save_dir / "wandb").glob("offline-run-*/run-*.wandb"))]


def test_stage_and_arm_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-123")
    stage_folder = tmp_path / "stages" / "search" / "k1"
    (stage_folder / "search").mkdir(parents=True)
    (stage_folder / "search" / "records.jsonl").write_text('{"rid": "a"}\n')
    identity = ArmIdentity(experiment="ablation_qc", arm="qc=off", group="ablation_qc-sweep1", overrides=["qc=off"])
    tracker = StageTracker({"kind": "wandb", "project": "chiron-test", "mode": "offline",
                            "save_dir": str(tmp_path / "wb")}, identity)
    config = {"mentors": {"models": [{"name": "gpt-4o", "api_key": "sk-test-not-a-real-key-123",
                                      "api_key_env": "OPENAI_API_KEY"}]}}
    tracker.stage("search", "k1", str(stage_folder), {"part3": "p3"}, config, {"cases_ok": 3, "by": {"x": 1}},
                  reused=False)
    tracker.stage("mix", "k2", str(stage_folder), {"search": "k1"}, {}, {}, reused=True)  # logged by its producer
    for own_run in ("eval", "base_eval"):  # the eval job's own run is the stage's run: no second one
        tracker.stage(own_run, "k3", str(stage_folder), {"train": "k2"}, {}, {"demo": {"accuracy": 1.0}},
                      reused=False)
    tracker.arm_summary({"settings": {"qc": False}, "overrides": ["qc=off"], "experiment": "ablation_qc",
                         "stages": {"search": {"key": "k1"}}, "metrics": {"demo": {"accuracy": 0.5, "n": 2}}})
    logs = offline_logs(tmp_path / "wb")
    assert len(logs) == 2  # the computed stage and the arm; the reused mix and the evals logged nothing
    # Offline run folders are named by start second and a random id, so two runs started in the same
    # second sort either way: tell them apart by the stage run's name.
    stage_logs = [log for log in logs if b"qc=off/search" in log]
    assert len(stage_logs) == 1
    stage_log, arm_log = stage_logs[0], next(log for log in logs if log is not stage_logs[0])
    everything = b"".join(p.read_bytes() for p in (tmp_path / "wb").rglob("*") if p.is_file())
    assert b"sk-test-not-a-real-key-123" not in everything and b"OPENAI_API_KEY" in stage_log
    for log in logs:
        assert b"ablation_qc-sweep1" in log            # one group for the whole sweep
    assert b"search-k1" in stage_log and b"search-records" in stage_log   # the artifact and its type
    assert b"cases_ok" in stage_log
    for log in logs:  # the arm, its overrides as {key: value} and the stage key, in every run's config
        assert b"arm_overrides" in log and b"qc=off" in log
    assert b"stage_key" in stage_log and b"k1" in stage_log
    assert b"pipeline" in arm_log and b"eval/demo/accuracy" in arm_log
    assert artifact_name("search", "k1") == "search-k1"


def test_no_wandb_no_runs(tmp_path):
    tracker = StageTracker({"kind": "csv"}, ArmIdentity(None, "default", "g", []))
    tracker.stage("search", "k", str(tmp_path), {}, {}, {}, reused=False)
    tracker.arm_summary({})
    assert not list(tmp_path.iterdir())


def test_flat_metrics_keeps_numeric_leaves():
    assert flat_metrics({"a": {"b": 1, "c": "x", "d": True}, "e": 2.5}) == {"a/b": 1, "e": 2.5}
    assert flat_metrics({"demo": {"mics_score": {"mean": 0.5}}}, "eval") == {"eval/demo/mics_score/mean": 0.5}


def test_arm_overrides_and_secret_values(monkeypatch):
    identity = ArmIdentity("ablation_qc", "qc=off,+x=1,~y", "g", ["qc=off", "+x=1", "~y"])
    assert identity.arm_overrides == {"qc": "off", "x": "1", "y": None}
    assert identity.stage_config("mix", "k", {"qc": "q"})["stage_key"] == "k"
    # a value is redacted for what it is, not only for the key it sits under
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-0123456789")
    config = {"notes": "uses tok-0123456789", "url": "http://h", "k": ["sk-abcdefgh12"], "n": 3}
    assert scrub_secrets(config) == {"notes": REDACTED, "url": "http://h", "k": [REDACTED], "n": 3}
