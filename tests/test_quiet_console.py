"""What a job prints about its slow steps and its W&B runs.

W&B is silent: every helper that starts a run (stage and pipeline runs, the eval's table run, the
training's Lightning logger) prints no `wandb:` line, and the job logs one line saying where its
runs went. A failed start is still one logged line with its cause. Building a tiny model logs a
start line (with the reason) and an end line with the wall time, with a progress bar while priming;
the Lightning Trainer no longer logs its "Tip" advertisement.
"""

import json
import logging
import os
import pickle

import pytest

from chiron.llm import tiny

wandb = pytest.importorskip("wandb")

from chiron.eval.wandb_table import log_eval
from chiron.pipeline.identity import ArmIdentity
from chiron.pipeline.tracking import StageTracker
from chiron.utils import loggers


def _wandb_lines(captured) -> list[str]:
    return [line for line in (captured.out + captured.err).splitlines() if "wandb" in line.lower()]


def _summary_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "chiron.utils.loggers" and r.levelno == logging.INFO]


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    for name in ("WANDB_SILENT", "WANDB_QUIET", "WANDB_CONSOLE"):
        monkeypatch.delenv(name, raising=False)


def test_stage_and_arm_runs_print_nothing_but_one_line(tmp_path, offline, capfd, caplog):
    caplog.set_level(logging.INFO)
    identity = ArmIdentity(experiment=None, arm="default", group="g-quiet", overrides=[])
    tracker = StageTracker({"kind": "wandb", "project": "chiron-test", "mode": "offline",
                            "save_dir": str(tmp_path / "wb")}, identity)
    folder = tmp_path / "stage"
    folder.mkdir()
    (folder / "result.json").write_text("{}")
    tracker.stage("qc", "k1", str(folder), {}, {}, {"kept": 3}, reused=False)
    tracker.stage("mix", "k2", str(folder), {"qc": "k1"}, {}, {"samples": 9}, reused=False)
    tracker.arm_summary({"settings": {}, "overrides": [], "experiment": None, "stages": {}, "metrics": {}})

    assert len(list((tmp_path / "wb" / "wandb").glob("offline-run-*"))) == 3
    assert _wandb_lines(capfd.readouterr()) == []
    # Three runs, one line: where they are and how to upload them.
    [line] = _summary_lines(caplog)
    assert "offline" in line and line.endswith(f"wandb sync {tmp_path / 'wb' / 'wandb'}/offline-run-*")  # outside cwd: absolute


def test_eval_table_run_prints_nothing_but_one_line(tmp_path, offline, capfd, caplog):
    caplog.set_level(logging.INFO)
    rows = {"demo": [{"id": "q1", "question": "Which?", "gold": "A", "status": "correct", "reply": "A",
                      "extracted": "A"}]}
    metrics = {"demo": {"accuracy": 1.0, "n": 1, "unparseable": 0}}
    log_eval({"kind": "wandb", "project": "chiron-test", "mode": "offline", "save_dir": str(tmp_path / "wb")},
             "quiet", {}, rows, metrics, examples=4, out_dir=str(tmp_path))

    assert list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert _wandb_lines(capfd.readouterr()) == []
    [line] = _summary_lines(caplog)
    assert "wandb sync " in line


def test_lightning_logger_prints_nothing_but_one_line(tmp_path, offline, capfd, caplog):
    caplog.set_level(logging.INFO)
    logger = loggers.lightning_logger({"kind": "wandb", "project": "chiron-test", "mode": "offline",
                                       "save_dir": str(tmp_path / "wb")}, name="quiet/stage1",
                                      run_id="quiet-stage1", save_dir=str(tmp_path), job_type="train")
    assert type(pickle.loads(pickle.dumps(logger))) is type(logger)  # as a spawned process receives it
    logger.log_metrics({"train/loss": 1.0}, step=0)
    logger.log_metrics({"train/loss": 0.5}, step=1)
    logger.experiment.finish()

    assert list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert _wandb_lines(capfd.readouterr()) == []
    [line] = _summary_lines(caplog)
    assert "wandb sync " in line


def test_wandb_errors_and_warnings_become_log_lines(offline, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="chiron.utils.loggers")
    loggers.silence_wandb_console()
    wandb.termerror("upload failed:\nnetwork is unreachable")
    wandb.termwarn("step went backwards")
    wandb.termlog("Tracking run with wandb version x")
    assert _wandb_lines(capfd.readouterr()) == []
    by_level = {r.levelno: r.getMessage() for r in caplog.records if r.name == "chiron.utils.loggers"}
    assert by_level[logging.ERROR] == "W&B: upload failed: network is unreachable"
    assert by_level[logging.WARNING] == "W&B: step went backwards"
    assert by_level[logging.DEBUG] == "W&B: Tracking run with wandb version x"  # banners: debug level, hidden by default


def test_a_failed_start_is_one_line_with_its_cause(tmp_path, monkeypatch, caplog):
    def refuse(**kwargs):
        raise wandb.errors.UsageError("No API key configured.\nUse `wandb login` to log in.")

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setattr(wandb, "init", refuse)
    with pytest.raises(wandb.errors.UsageError):
        loggers.start_wandb_run(project="p", name="arm/qc", mode="online", dir=str(tmp_path))
    logger = loggers.lightning_logger({"kind": "wandb", "project": "p", "mode": "online"}, name="arm/stage1",
                                      run_id="arm-stage1", save_dir=str(tmp_path), job_type="train")
    with pytest.raises(wandb.errors.UsageError):
        _ = logger.experiment
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    for name, message in zip(("arm/qc", "arm/stage1"), errors):
        assert "\n" not in message
        assert name in message and "No API key configured. Use `wandb login` to log in." in message


def _build_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "chiron.llm.tiny"]


def test_tiny_build_logs_start_and_end_and_shows_a_bar(tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.INFO, logger="chiron.llm.tiny")
    # Four updates: the lines and the bar without the minutes a real priming takes.
    monkeypatch.setattr("chiron.llm.tiny.priming.PRIME_STEPS", {**tiny.priming.PRIME_STEPS, "judge": 4})
    path = str(tmp_path / "judge")
    tiny.ensure_tiny_model(path, seed=5, role="judge")
    start, end = _build_messages(caplog)
    assert "judge" in start and "building" in start and "no saved model there" in start and "4 steps" in start
    assert "built and saved in" in end and end.rstrip().endswith(" s")
    bar = capfd.readouterr().err
    assert "priming tiny judge model" in bar and "4/4" in bar

    caplog.clear()
    tiny.ensure_tiny_model(path, seed=5, role="judge")  # already there: nothing to say
    assert _build_messages(caplog) == []

    # A model of an older recipe is rebuilt, and the start line says why; progress off: no bar.
    stamp_file = os.path.join(path, tiny.STAMP_FILE)
    with open(stamp_file) as f:
        stamp = json.load(f)
    with open(stamp_file, "w") as f:
        json.dump({**stamp, "recipe": stamp["recipe"] - 1}, f)
    tiny.ensure_tiny_model(path, seed=5, role="judge", progress=False)
    start, end = _build_messages(caplog)
    assert f"recipe changed: recipe {stamp['recipe'] - 1} -> {stamp['recipe']}" in start
    assert "built and saved in" in end
    assert "priming tiny" not in capfd.readouterr().err


def test_lightning_tip_is_not_logged(tmp_path, caplog):
    from chiron.train.trainer import build_trainer

    caplog.set_level(logging.INFO)
    build_trainer({"accelerator": "cpu", "devices": 1, "num_nodes": 1, "precision": "32-true"}, str(tmp_path),
                  epochs=1, grad_clip=None, checkpoint_every=1, micro_batch=1, logger=False, progress=False)
    messages = [r.getMessage() for r in caplog.records]
    assert any("GPU available" in m for m in messages)  # Lightning's other lines stay
    assert not any("Tip" in m for m in messages)


def test_online_the_line_gives_the_url_once_per_job(caplog):
    class OnlineRun(wandb.Run):  # no network: only what the line reads
        offline = False
        url = "https://wandb.ai/me/chiron/runs/abc"

        def __init__(self):
            pass

        def get_project_url(self):
            return "https://wandb.ai/me/chiron"

    caplog.set_level(logging.INFO)
    loggers.announce_wandb_run(OnlineRun(), group="sweep-7")
    loggers.announce_wandb_run(OnlineRun(), group="sweep-7")
    assert _summary_lines(caplog) == [("W&B is online: this job's runs are in group 'sweep-7' of "
                                       "https://wandb.ai/me/chiron; the first is https://wandb.ai/me/chiron/runs/abc")]


def test_a_disabled_run_starts_and_announces_nothing(tmp_path, monkeypatch, caplog):
    """WANDB_MODE=disabled (the tests, CI) gives wandb's stand-in run: no folder, no URL, no line."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    caplog.set_level(logging.INFO, logger="chiron.utils.loggers")
    run = loggers.start_wandb_run(project="p", dir=str(tmp_path), mode="disabled", group="g")
    run.finish()
    assert not [r for r in caplog.records if "W&B is" in r.getMessage()]
