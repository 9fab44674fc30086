"""The whole search through `python run.py` against a real HTTP OpenAI-compatible server on
127.0.0.1: concurrency, injected faults, resume after kill -9, and no secret on disk."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from chiron.llm.cache import CallCache
from chiron.testing.fake_openai import running_server
from chiron.utils.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"
RESPONDER = "chiron.testing.roleplay:respond"


def search_command(base_url: str, out: Path, run_name: str, *extra: str) -> list[str]:
    def model(name, role):
        return (f"{{name:{name},backend:openai,model:{name},base_url:'{base_url}',"
                f"api_key_env:CHIRON_E2E_KEY,max_retries:4,timeout_s:5}}")

    return [
        sys.executable, str(ROOT / "run.py"), "task=search",
        "mentors=openai_compatible", "interns=openai_compatible", "judge=openai_compatible",
        f"mentors.models=[{model('mentor-a', 'm')},{model('mentor-b', 'm')},{model('mentor-c', 'm')}]",
        f"interns.models=[{model('intern-a', 'i')},{model('intern-b', 'i')}]",
        f"judge.spec={model('judge-x', 'j')}",
        f"paths.output_dir={out}", f"run_name={run_name}", "progress=false", *extra,
    ]


def env_with_key() -> dict:
    env = dict(os.environ)
    env["CHIRON_E2E_KEY"] = SECRET
    return env


def test_search_over_http_with_faults_finishes_every_good_case(tmp_path):
    faults = ["429", "500", "empty", "drop", "429", "ok", "500"]
    with running_server(latency_s=0.02, capacity=32, faults=faults, responder=RESPONDER, api_key=SECRET) as server:
        proc = subprocess.run(search_command(server.base_url, tmp_path, "e2e"), env=env_with_key(),
                              capture_output=True, text=True, timeout=300)
        stats = server.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "search" / "runs" / "e2e" / "search"
    summary = json.loads((out / "summary.json").read_text())
    records = list(read_jsonl(str(out / "records.jsonl")))
    failed = list(read_jsonl(str(out / "failed.jsonl")))
    # every demo case ends as a record or a search failure (never an API error)
    assert summary["cases_ok"] + summary["cases_failed"] == 12 and summary["cases_ok"] >= 6
    assert all(f["kind"] == "search_failed" for f in failed)
    assert sum(stats["faults_served"].values()) == sum(f != "ok" for f in faults)
    assert summary["usage_all_runs"]["mentor/mentor-a"]["retries"] >= 0
    assert sum(u["retries"] for u in summary["usage_all_runs"].values()) >= 5  # 429/500/empty/drop retried
    assert stats["auth_bad_count"] == 0 and stats["auth_ok_count"] == stats["total"]
    assert stats["max_in_flight"] > 4  # calls overlapped
    assert stats["data_url_images"] > 0
    rec = records[0]
    assert rec["reasoning"].count("### Step") >= 1 and rec["path_scores"]
    refs = list(read_jsonl(str(out / "reference.jsonl")))
    assert {r["rid"] for r in refs} == {r["rid"] for r in records}
    # the key never reaches the disk: outputs, Hydra's saved config, logs
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="ignore"), f"secret leaked into {path}"
    assert SECRET not in proc.stdout + proc.stderr


def test_kill_nine_then_resume_loses_nothing_and_repays_nothing(tmp_path):
    with running_server(latency_s=0.1, capacity=64, responder=RESPONDER) as server:
        clean = subprocess.run(search_command(server.base_url, tmp_path / "clean", "x",
                                              "search.max_cases_in_flight=3"),
                               env=env_with_key(), capture_output=True, text=True, timeout=300)
        assert clean.returncode == 0, clean.stderr[-3000:]
        clean_calls = server.stats()["total"]
    with running_server(latency_s=0.1, capacity=64, responder=RESPONDER) as server:
        cmd = search_command(server.base_url, tmp_path / "killed", "x", "search.max_cases_in_flight=3")
        proc = subprocess.Popen(cmd, env=env_with_key(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = tmp_path / "killed" / "search" / "runs" / "x" / "search" / "records.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not records.exists() or len(records.read_text().splitlines()) < 3):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.5)  # let the server finish or drop what the dead client had in flight
        at_kill = server.stats()
        cache = CallCache(str(tmp_path / "killed" / "cache" / "calls"))
        finished_calls = len(cache)  # calls whose reply the client had stored when it died
        cache.close()
        finished_before = [json.loads(line) for line in records.read_text().splitlines()]  # all parseable
        assert 3 <= len(finished_before) < 12
        resumed = subprocess.run(cmd, env=env_with_key(), capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        total = server.stats()["total"]
    out = records.parent
    summary = json.loads((out / "summary.json").read_text())
    clean_summary = json.loads((tmp_path / "clean" / "search" / "runs" / "x" / "search" / "summary.json").read_text())
    assert summary["cases_ok"] == clean_summary["cases_ok"]
    assert summary["this_run"]["skipped_as_finished"] == len(finished_before)
    rids = [r["rid"] for r in read_jsonl(str(records))]
    assert len(rids) == len(set(rids))  # no case written twice
    # Both runs ask the same questions, so the resumed run must pay exactly the clean run's calls
    # that had not finished (been stored) before the kill: not one finished call again.
    calls_after = total - at_kill["total"]
    assert calls_after == clean_calls - finished_calls, (calls_after, clean_calls, finished_calls)
