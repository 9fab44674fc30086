"""Refused keys, unknown models and rejected requests: classified, never retried as they stand, one
request per endpoint for a bad key, the key never written anywhere, and a non-zero exit that names the
cause; a pipeline stage that produced nothing is never stored, and recomputes once the key is set."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import compose_config

from chiron.llm.openai_backend import OpenAIBackend
from chiron.llm.spec import ModelSpec
from chiron.llm.types import BackendError, ChatRequest, Message, Sampling
from chiron.main import run_task
from chiron.preflight import NeedsMissing
from chiron.testing.fake_openai import running_server
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
RESPONDER = "chiron.testing.roleplay:respond"
SECRET = "sk-right-key-0123456789"
WRONG = "sk-WRONG-key-must-not-leak-9876"


def _backend(base_url: str, **spec) -> OpenAIBackend:
    from tenacity import wait_none

    backend = OpenAIBackend(ModelSpec(name="m", backend="openai", model="m", base_url=base_url, max_retries=3, **spec))
    backend.retry_wait = wait_none()
    return backend


def _ask(backend: OpenAIBackend, n: int, model: str = "m") -> list:
    async def go():
        requests = [ChatRequest(model, (Message("user", f"q{i}"),), Sampling()) for i in range(n)]
        results = await asyncio.gather(*(backend.complete(r) for r in requests), return_exceptions=True)
        await backend.aclose()
        return results

    return asyncio.run(go())


# -- the backend ---------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_refused_key_costs_one_request_for_all_calls_in_flight(monkeypatch):
    monkeypatch.setenv("CHIRON_REFUSAL_KEY", WRONG)
    with running_server(api_key=SECRET) as server:
        results = _ask(_backend(server.base_url, api_key_env="CHIRON_REFUSAL_KEY"), 20)
        stats = server.stats()
    assert stats["total"] == 1 and stats["auth_bad_count"] == 1
    assert all(isinstance(r, BackendError) and r.kind == "setup" and not r.retryable for r in results)
    message = str(results[0])
    assert "401" in message and "CHIRON_REFUSAL_KEY" in message and WRONG not in message


@pytest.mark.timeout(30)
def test_forbidden_unknown_model_and_bad_request_are_classified(monkeypatch):
    with running_server(faults=["403"]) as server:
        results = _ask(_backend(server.base_url), 5)
        assert server.stats()["total"] == 1
    assert {r.kind for r in results} == {"setup"} and "403" in str(results[0])
    with running_server(faults=["404"]) as server:
        backend = _backend(server.base_url)
        missing = _ask(backend, 4, model="no-such-model")
        assert server.stats()["total"] == 1  # the model is known to be missing: no second request
        assert all(r.kind == "setup" and "no such model" in str(r) for r in missing)
        assert all(not isinstance(r, Exception) for r in _ask(backend, 2, model="m"))  # other models still work
    with running_server(faults=["400", "ok"]) as server:
        results = _ask(_backend(server.base_url), 1) + _ask(_backend(server.base_url), 1)
        assert server.stats()["total"] == 2  # a rejected request is not retried, and not remembered
    assert results[0].kind == "rejected" and not results[0].retryable and not isinstance(results[1], Exception)


def test_a_missing_key_variable_is_a_setup_failure_without_a_request(monkeypatch):
    monkeypatch.delenv("CHIRON_UNSET_KEY", raising=False)
    with running_server() as server:
        results = _ask(_backend(server.base_url, api_key_env="CHIRON_UNSET_KEY"), 3)
        assert server.stats()["total"] == 0
    assert all(r.kind == "setup" and "CHIRON_UNSET_KEY is not set" in str(r) for r in results)


# -- a search through run.py -----------------------------------------------------------------------


def _search(base_url: str, out: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    def model(name):
        return (f"{{name:{name},backend:openai,model:{name},base_url:'{base_url}',api_key_env:CHIRON_REFUSAL_KEY,"
                "max_retries:2,timeout_s:10}")

    cmd = [sys.executable, str(ROOT / "run.py"), "task=search", "mentors=openai_compatible",
           "interns=openai_compatible", "judge=openai_compatible", f"mentors.models=[{model('mentor-a')},{model('mentor-b')}]",
           f"interns.models=[{model('intern-a')}]", f"judge.spec={model('judge')}", f"paths.output_dir={out}",
           "run_name=keyed", "progress=false", "logger=none", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_search_with_a_refused_key_exits_non_zero_naming_the_fix_then_resumes_with_the_right_key(tmp_path):
    env = dict(os.environ, CHIRON_REFUSAL_KEY=WRONG, WANDB_MODE="disabled")
    with running_server(api_key=SECRET, responder=RESPONDER) as server:
        refused = _search(server.base_url, tmp_path, env)
        assert server.stats()["total"] == 1  # every role shares the endpoint: one request in all
        fixed = _search(server.base_url, tmp_path, dict(env, CHIRON_REFUSAL_KEY=SECRET))
    out = tmp_path / "search" / "runs" / "keyed" / "search"
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in output
    assert "search stopped" in output and "refused the key" in output and "CHIRON_REFUSAL_KEY" in output
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    failed = list(read_jsonl(str(out / "failed.jsonl")))
    setup = [f for f in failed if f["kind"] == "setup"]
    assert setup and all(not f["retryable"] for f in setup)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cases_ok"] + summary["cases_failed"] == 12 and summary["cases_ok"] > 0
    assert "setup" not in summary["failures_by_kind"]  # the rerun searched them again
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert WRONG not in path.read_text(errors="ignore") and SECRET not in path.read_text(errors="ignore")
    assert WRONG not in output


# -- the pipeline never stores a stage that produced nothing -------------------------------------------


def test_pipeline_search_failing_for_a_missing_key_is_not_stored_and_recomputes_once_set(tmp_path, monkeypatch,
                                                                                       shared_tiny_models):
    monkeypatch.delenv("CHIRON_REFUSAL_KEY", raising=False)
    with running_server(api_key=SECRET, responder=RESPONDER) as server:
        spec = (f"{{name:mentor-api,backend:openai,model:mentor-api,base_url:'{server.base_url}',"
                "api_key_env:CHIRON_REFUSAL_KEY,max_retries:1,timeout_s:10}")

        def run(name, *extra):
            cfg = compose_config([f"paths.output_dir={tmp_path}", f"+paths.run_dir={tmp_path / 'runs' / name}",
                                  f"paths.tiny_model_dir={shared_tiny_models}", f"mentors.models=[{spec}]",
                                  "corpus.limit=8", "data.limit=4", "pipeline.last=qc",
                                  "logger=none", "progress=false", *extra])
            return run_task(cfg)

        # The input check names the variable before any stage runs ...
        with pytest.raises(NeedsMissing, match=r"environment variable CHIRON_REFUSAL_KEY is not set \(mentor model 'mentor-api'\)"):
            run("checked")
        assert not (tmp_path / "stages").exists()
        # ... and without it, the search stage fails and is not stored.
        with pytest.raises(TaskFailed, match=r"stage search failed and was not stored.*CHIRON_REFUSAL_KEY is not set"):
            run("no-key", "preflight=false")
        assert server.stats()["total"] == 0
        folders = list((tmp_path / "stages" / "search").iterdir())
        assert not any((f / "stage_done.json").exists() for f in folders if f.is_dir())
        monkeypatch.setenv("CHIRON_REFUSAL_KEY", SECRET)
        summary = run("with-key")
    assert not summary["stages"]["search"]["reused"] and summary["stages"]["part3"]["reused"]
    assert summary["stages"]["search"]["summary"]["cases_ok"] >= 1
    assert summary["stages"]["search"]["folder"] in [str(f) for f in folders]  # resumed in the same folder


# -- the case runner: which failures end a case for good, which stop the run -------------------------


def _cases(n: int):
    from chiron.search.case import Case

    return [Case(rid=f"c{i}", question="q?", answer="a", images=(), image_refs=()) for i in range(n)]


def _run_cases(out_dir: str, search_fn, n: int = 6):
    from chiron.llm.ledger import Ledger
    from chiron.search.runner import CaseRunner

    runner = CaseRunner(search_fn, "mics", out_dir, Ledger(), max_cases_in_flight=1, progress=False)
    return asyncio.run(runner.run(_cases(n)))


def test_a_setup_failure_stops_new_cases_and_is_searched_again_next_run(tmp_path):
    from chiron.search.job import check_search_outcome
    from chiron.search.mics import SearchResult

    seen = []

    async def refused(case):
        seen.append(case.rid)
        raise BackendError("mentor: model 'gpt-4o': environment variable OPENAI_API_KEY is not set", kind="setup")

    summary = _run_cases(str(tmp_path), refused)
    assert seen == ["c0"] and summary["this_run"]["not_started"] == 5
    assert summary["stopped_by"].endswith("OPENAI_API_KEY is not set") and summary["retryable_failures"] == 1
    with pytest.raises(TaskFailed, match=r"search stopped: mentor: model 'gpt-4o'.* \(1 case\(s\) failed on it, 5 not "
                                         r"started;"):
        check_search_outcome(summary, str(tmp_path))

    async def works(case):
        seen.append(case.rid)
        return SearchResult(status="full_score", steps=["s"], path_scores=[1.0], selected=["A"],
                            history={"A": [1.0]}, final_answer="a"), [{}]

    summary = _run_cases(str(tmp_path), works)
    assert seen[1:] == [f"c{i}" for i in range(6)] and summary["cases_ok"] == 6 and summary["stopped_by"] is None


def test_rejected_requests_and_bad_images_end_their_case_only_and_are_not_retried(tmp_path):
    from chiron.search.job import check_search_outcome

    async def rejected(case):
        kind = "bad_image" if case.rid == "c0" else "rejected"
        raise BackendError(f"judge: model 'j': {kind}", kind=kind)

    summary = _run_cases(str(tmp_path), rejected, n=3)
    assert summary["failures_by_kind"] == {"bad_image": 1, "rejected": 2} and summary["retryable_failures"] == 0
    assert summary["stopped_by"] is None and summary["this_run"]["searched"] == 3
    with pytest.raises(TaskFailed, match=r"search finished no case: 3 failed .*first: case c0: judge: model 'j'"):
        check_search_outcome(summary, str(tmp_path))
    assert _run_cases(str(tmp_path), rejected, n=3)["this_run"]["searched"] == 0  # finished for good


def test_a_stored_stage_with_retryable_failures_is_retried_and_what_follows_recomputed(tmp_path, monkeypatch,
                                                                                    shared_tiny_models):
    import chiron.search.job as search_job

    real_search, calls = search_job.run, []

    def search_with_one_lost_case(cfg):
        summary = real_search(cfg)
        calls.append(cfg.paths.run_dir)
        if len(calls) == 1:  # as if the last case had failed on exhausted API retries
            records = Path(cfg.paths.run_dir) / "search" / "records.jsonl"
            records.write_text("".join(records.read_text().splitlines(keepends=True)[:-1]))
            summary = dict(summary, retryable_failures=1)
        return summary

    monkeypatch.setattr(search_job, "run", search_with_one_lost_case)

    def run(name):
        return run_task(compose_config([f"paths.output_dir={tmp_path}", f"+paths.run_dir={tmp_path / 'runs' / name}",
                                        f"paths.tiny_model_dir={shared_tiny_models}", "corpus.limit=8",
                                        "data.limit=4", "pipeline.last=qc", "logger=none",
                                        "progress=false"]))

    first = run("first")["stages"]
    second = run("second")["stages"]
    third = run("third")["stages"]
    assert len(calls) == 2 and calls[0] == calls[1]  # retried in its own folder, then left alone
    assert not first["search"]["reused"] and not second["search"]["reused"] and third["search"]["reused"]
    assert not second["qc"]["reused"] and third["qc"]["reused"]  # the retry changed the records: QC again
    assert list((tmp_path / "stages" / "qc").glob("*.old-*"))  # the old QC result set aside, not deleted
    assert third["qc"]["summary"] == second["qc"]["summary"]


# -- evaluation ------------------------------------------------------------------------------------


def _reference_benchmark(root: Path, good: bool) -> None:
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(3):
        path = root / "images" / f"{i}.png"
        if good:
            Image.new("RGB", (32, 32), (40 * i, 80, 120)).save(path)
        else:
            path.write_text("not an image")
    rows = [{"id": i, "img_name": [f"images/{i}.png"], "question": f"Is finding {i} present?", "answer": "Yes.",
             "answer_type": "CLOSED"} for i in range(3)]
    (root / "eval_data.json").write_text(json.dumps(rows))


def _eval_cfg(tmp_path: Path, root: Path, base_url: str, *overrides: str):
    generator = (f"eval.generator={{name:fake-vlm,backend:openai,model:fake-vlm,base_url:'{base_url}',"
                 "api_key_env:CHIRON_REFUSAL_KEY,max_retries:1,timeout_s:10}")
    return compose_config(["task=eval", "benchmarks=[reference]", f"eval.roots.reference={root}", generator,
                           "eval.judge_open=false", "logger=none", "progress=false", f"paths.output_dir={tmp_path}",
                           f"+paths.run_dir={tmp_path / 'run'}", *overrides])


def test_eval_with_a_refused_key_stops_at_once_and_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIRON_REFUSAL_KEY", WRONG)
    _reference_benchmark(tmp_path / "bench", good=True)
    with running_server(api_key=SECRET) as server:
        with pytest.raises(TaskFailed, match=r"eval stopped at reference: model: model 'fake-vlm'.*refused the key"):
            run_task(_eval_cfg(tmp_path, tmp_path / "bench", server.base_url))
        assert server.stats()["total"] == 1
    rows = list(read_jsonl(str(tmp_path / "run" / "eval" / "reference" / "predictions.jsonl")))
    assert rows and all(r["status"] == "generation_failed" and r["failure_kind"] == "setup" for r in rows)


def test_eval_with_every_image_bad_fails_and_a_rerun_evaluates_the_fixed_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIRON_REFUSAL_KEY", SECRET)
    bench = tmp_path / "bench"
    _reference_benchmark(bench, good=False)
    with running_server(api_key=SECRET) as server:
        with pytest.raises(TaskFailed, match=r"eval evaluated no item: 3 of 3 failed or had a bad image; first: item 0 "
                                             r"\(bad_image\)"):
            run_task(_eval_cfg(tmp_path, bench, server.base_url))
        assert server.stats()["total"] == 0
        metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())["reference"]
        assert metrics["n"] == 3 and metrics["bad_images"] == 3
        _reference_benchmark(bench, good=True)  # the images are fixed: the rerun asks about them
        run_task(_eval_cfg(tmp_path, bench, server.base_url))
        assert server.stats()["total"] == 3
    rows = list(read_jsonl(str(tmp_path / "run" / "eval" / "reference" / "predictions.jsonl")))
    latest = {r["id"]: r["status"] for r in rows}
    assert len(rows) == 6 and "bad_image" not in latest.values()


@pytest.mark.timeout(30)
def test_once_the_endpoint_has_answered_the_waiting_calls_go_out_together():
    """The one-at-a-time gate lasts for the first answer only: the calls queued behind it must not
    each go out alone (that halved the search's throughput)."""
    with running_server(latency_s=0.3) as server:
        started = time.monotonic()
        results = _ask(_backend(server.base_url), 12)
        elapsed = time.monotonic() - started
        stats = server.stats()
    assert not any(isinstance(r, Exception) for r in results)
    assert stats["max_in_flight"] >= 6 and elapsed < 2.0  # one probe (0.3 s), then the rest at once
