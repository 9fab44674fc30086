"""One run folder, one writer: a second command into a busy run folder refuses (or waits), a lock left
by a killed process never blocks the rerun, and appenders refuse a key another writer already wrote."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chiron.testing.fake_openai import running_server
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import JsonlAppender, read_jsonl
from chiron.utils.runlock import HOLDER_FILE, RunFolderBusy, run_folder_lock

ROOT = Path(__file__).resolve().parents[1]
RESPONDER = "chiron.testing.roleplay:respond"


def _env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")
    env.pop("WANDB_API_KEY", None)
    return env


def _search_command(base_url: str, out: Path, run_name: str, *extra: str) -> list[str]:
    def model(name):
        return f"{{name:{name},backend:openai,model:{name},base_url:'{base_url}',max_retries:2,timeout_s:10}}"

    return [sys.executable, str(ROOT / "run.py"), "task=search", "mentors=openai_compatible",
            "interns=openai_compatible", "judge=openai_compatible", f"mentors.models=[{model('mentor-a')},{model('mentor-b')}]",
            f"interns.models=[{model('intern-a')}]", f"judge.spec={model('judge')}", f"paths.output_dir={out}",
            f"run_name={run_name}", "progress=false", "logger=none", *extra]


def _wait_for_holder(folder: Path, pid: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if json.loads((folder / HOLDER_FILE).read_text()).get("pid") == pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no run lock taken in {folder} by PID {pid}")


def _start_busy(cmd: list[str], folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_holder(folder, proc.pid)
    return proc


def _assert_refused(proc: subprocess.CompletedProcess, folder: Path, holder_pid: int) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"run folder {folder} is in use by PID {holder_pid}" in output, output[-2000:]
    assert "Traceback" not in output


# -- the lock itself ---------------------------------------------------------------------------


def _hold_forever(folder: str, ready) -> None:
    with run_folder_lock(folder):
        ready.set()
        time.sleep(600)


def test_second_holder_is_refused_with_the_holder_named_and_a_killed_holder_never_blocks(tmp_path):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_forever, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(RunFolderBusy, match=f"in use by PID {holder.pid} on ") as info:
            with run_folder_lock(str(tmp_path)):
                pass
        assert isinstance(info.value, TaskFailed) and "run_lock.wait_s" in str(info.value)
        start = time.monotonic()
        with pytest.raises(RunFolderBusy, match=r"waited 0\.3 s"):
            with run_folder_lock(str(tmp_path), wait_s=0.3):
                pass
        assert time.monotonic() - start >= 0.3
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up runs: the kernel drops the lock
        holder.join()
    with run_folder_lock(str(tmp_path)):
        assert json.loads((tmp_path / HOLDER_FILE).read_text())["pid"] == os.getpid()


# -- real commands into one folder ---------------------------------------------------------------


def test_second_search_into_a_busy_folder_refuses_and_a_waiting_one_pays_nothing(tmp_path):
    with running_server(latency_s=0.3, responder=RESPONDER) as server:
        folder = tmp_path / "search" / "runs" / "same"
        cmd = _search_command(server.base_url, tmp_path, "same", "search.max_cases_in_flight=2")
        first = _start_busy(cmd, folder)
        second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
        _assert_refused(second, folder, first.pid)
        # a third one asked to wait starts once the first is done, and finds nothing left to pay for
        waiting = subprocess.Popen([*cmd, "run_lock.wait_s=600"], env=_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err[-3000:]
        calls_of_first = server.stats()["total"]
        out, err = waiting.communicate(timeout=300)
        assert waiting.returncode == 0, err[-3000:]
        assert server.stats()["total"] == calls_of_first
    search = folder / "search"
    rids = [r["rid"] for r in read_jsonl(str(search / "records.jsonl"))]
    assert rids and len(rids) == len(set(rids))
    summary = json.loads((search / "summary.json").read_text())
    assert summary["cases_ok"] + summary["cases_failed"] == 12
    assert summary["this_run"]["searched"] == 0


def _second_refused_while_the_first_runs(tmp_path: Path, task: str, *overrides: str) -> Path:
    """Start `task` into run folder `same`, start it again while the first holds the folder: the second
    refuses, the first finishes. Returns the run folder."""
    folder = tmp_path / task / "runs" / "same"
    cmd = [sys.executable, str(ROOT / "run.py"), f"task={task}", "model=tiny", f"paths.output_dir={tmp_path}",
           "run_name=same", "progress=false", *overrides]
    first = _start_busy(cmd, folder)
    second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    _assert_refused(second, folder, first.pid)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    return folder


def test_second_eval_into_a_busy_folder_refuses(tmp_path):
    folder = _second_refused_while_the_first_runs(tmp_path, "eval", "benchmarks=demo", "logger=none")
    ids = [r["id"] for r in read_jsonl(str(folder / "eval" / "demo" / "predictions.jsonl"))]
    assert len(ids) == len(set(ids)) == 22


def test_second_training_into_a_busy_folder_refuses_and_leaves_the_metrics_whole(tmp_path):
    folder = _second_refused_while_the_first_runs(tmp_path, "train", "curriculum=three_stage", "logger=csv")
    metrics = (folder / "train" / "stage3" / "logs" / "metrics.csv").read_text().splitlines()
    assert len({len(line.split(",")) for line in metrics}) == 1  # one header, rows of its width


# -- the second line of defence: appenders ------------------------------------------------------


def _append_all(path: str, start: multiprocessing.Event, rids: list[str]) -> None:
    appender = JsonlAppender(path, unique_key="rid")
    start.wait(30)
    for rid in rids:
        appender.write({"rid": rid, "writer": os.getpid()})
    appender.close()


def test_two_appenders_in_two_processes_write_each_key_once(tmp_path):
    path = str(tmp_path / "records.jsonl")
    start = multiprocessing.Event()
    rids = [f"case-{i}" for i in range(200)]
    writers = [multiprocessing.Process(target=_append_all, args=(path, start, rids)) for _ in range(2)]
    for w in writers:
        w.start()
    start.set()
    for w in writers:
        w.join(60)
    written = [r["rid"] for r in read_jsonl(path)]
    assert sorted(written) == sorted(rids)


def test_a_retryable_line_does_not_block_its_retry_but_a_final_one_does(tmp_path):
    path = str(tmp_path / "predictions.jsonl")

    def final(row):
        return row["status"] != "generation_failed"

    first = JsonlAppender(path, unique_key="id", final=final)
    assert first.write({"id": "a", "status": "generation_failed"})
    second = JsonlAppender(path, unique_key="id", final=final)  # e.g. a rerun, or another writer
    assert second.write({"id": "a", "status": "correct"})
    assert not first.write({"id": "a", "status": "wrong"})  # it sees the other writer's final line
    assert [r["status"] for r in read_jsonl(path)] == ["generation_failed", "correct"]


def test_the_secondary_ranks_of_one_job_take_no_lock(tmp_path, monkeypatch):
    from chiron.utils.runlock import is_secondary_rank

    assert not is_secondary_rank({}) and not is_secondary_rank({"LOCAL_RANK": "0", "RANK": "0"})
    assert is_secondary_rank({"LOCAL_RANK": "1"}) and is_secondary_rank({"LOCAL_RANK": "0", "NODE_RANK": "1"})
    assert is_secondary_rank({"SLURM_NTASKS": "8", "SLURM_PROCID": "3"})
    assert not is_secondary_rank({"SLURM_NTASKS": "1", "SLURM_PROCID": "0"})
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_forever, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(30)
        monkeypatch.setenv("LOCAL_RANK", "1")  # e.g. DDP's rank 1, started by Lightning as the same command
        with run_folder_lock(str(tmp_path)):
            pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
