"""search.budget_usd: no new case starts once the run folder has spent the budget (earlier runs
included); the summary says so, the job fails with one line saying how to resume, and a rerun with a
higher budget searches only the cases not started, paying for no call twice."""

import asyncio
import dataclasses
import functools
import json

import pytest
from conftest import compose_config
from scripted import Script

from chiron.main import run_task
from chiron.search.job import check_search_outcome
from chiron.search.mics import SearchSettings, mics_search
from chiron.search.runner import CaseRunner
from chiron.testing.fake_openai import running_server
from chiron.utils.errors import TaskFailed

TABLE = {"A1": 1, "B1": 2, "B2": 3, "A2": 2, "B3": 4}  # full score at depth 3


def _priced_script(tmp_path) -> Script:
    script = Script(tmp_path, mentors=("A", "B"), table=TABLE, plan_len=3)
    for model in script.roles.mentors + script.roles.interns + [script.roles.judge]:
        # 10 tokens in, 5 out per scripted call: $0.02 a paid call
        model.spec = dataclasses.replace(model.spec, price_in_per_mtok=1000.0, price_out_per_mtok=2000.0)
    return script


def _cases(script: Script, n: int = 5):
    # different questions, so no case replays another's calls from the cache
    return [dataclasses.replace(script.case(f"c{i}"), question=f"What is case {i}?") for i in range(n)]


def _search(script: Script, out_dir, budget, in_flight: int = 1) -> dict:
    search_fn = functools.partial(mics_search, roles=script.roles, settings=SearchSettings(max_depth=3))
    runner = CaseRunner(search_fn, "mics", str(out_dir), script.ledger, max_cases_in_flight=in_flight,
                        progress=False, budget_usd=budget)
    summary = asyncio.run(runner.run(_cases(script)))
    script.ledger.__init__()  # each run has its own ledger, as in the job
    return summary


def _backend_calls(script: Script) -> int:
    backends = list(script.mentor_backends.values()) + list(script.intern_backends.values()) + [script.judge_backend]
    return sum(b.calls for b in backends)


def test_a_budget_stops_new_cases_counts_earlier_runs_and_resumes_without_paying_twice(tmp_path):
    clean = _priced_script(tmp_path / "clean")
    whole = _search(clean, tmp_path / "clean" / "out", None)
    assert whole["cases_ok"] == 5 and whole["stopped_by_budget"] is None and whole["budget_usd"] is None
    per_case = whole["spent_usd"] / 5
    assert per_case > 0

    script = _priced_script(tmp_path / "budget")
    out = tmp_path / "budget" / "out"
    first = _search(script, out, 1e-9)  # the first case starts (nothing spent yet), no other
    assert first["this_run"]["searched"] == 1 and first["this_run"]["not_started"] == 4
    assert first["stopped_by"] is None  # setup failures keep that field to themselves
    assert first["stopped_by_budget"].startswith(f"spent ${per_case:.4f} of search.budget_usd=$0.0000")
    assert first["spent_usd"] == pytest.approx(per_case)
    with pytest.raises(TaskFailed) as failed:
        check_search_outcome(first, str(out))
    message = str(failed.value)
    assert "\n" not in message
    assert message == (f"search stopped by its budget: spent ${per_case:.4f} of search.budget_usd=$0.0000 in this "
                       "run folder, 4 case(s) not started; raise search.budget_usd (or remove it) and rerun the "
                       "same command to resume")

    # The first run's spending counts: a budget of 2.5 cases lets two more start, not three.
    second = _search(script, out, 2.5 * per_case)
    assert second["this_run"]["searched"] == 2 and second["this_run"]["skipped_as_finished"] == 1
    assert second["this_run"]["not_started"] == 2 and second["spent_usd"] == pytest.approx(3 * per_case)
    with pytest.raises(TaskFailed, match=r"2 case\(s\) not started"):
        check_search_outcome(second, str(out))

    same = _search(script, out, 2.5 * per_case)  # already over it: nothing starts
    assert same["this_run"]["searched"] == 0 and same["this_run"]["not_started"] == 2 and same["stopped_by_budget"]

    done = _search(script, out, None)
    assert done["this_run"]["searched"] == 2 and done["cases_ok"] == 5 and done["stopped_by_budget"] is None
    check_search_outcome(done, str(out))  # finished: no TaskFailed
    assert _backend_calls(script) == _backend_calls(clean)  # no call paid twice
    cost = sum(u["cost_usd"] for u in done["usage_all_runs"].values())
    assert cost == pytest.approx(sum(u["cost_usd"] for u in whole["usage_all_runs"].values()))


def test_cases_in_flight_finish_so_the_budget_is_overshot_by_them_at_most(tmp_path):
    script = _priced_script(tmp_path)
    summary = _search(script, tmp_path / "out", 1e-9, in_flight=3)
    # three workers each took a case before anything was spent; those three finished
    assert summary["this_run"]["searched"] == 3 and summary["cases_ok"] == 3
    assert summary["this_run"]["not_started"] == 2 and summary["stopped_by_budget"]


def test_a_budget_larger_than_the_search_changes_nothing(tmp_path):
    script = _priced_script(tmp_path)
    summary = _search(script, tmp_path / "out", 100.0)
    assert summary["cases_ok"] == 5 and summary["stopped_by_budget"] is None and summary["budget_usd"] == 100.0
    check_search_outcome(summary, str(tmp_path / "out"))


def test_the_search_job_fails_on_its_budget_and_the_same_command_with_a_higher_one_resumes(tmp_path):
    with running_server(responder="chiron.testing.roleplay:respond") as server:
        def model(name):
            return (f"{{name:{name},backend:openai,model:{name},base_url:'{server.base_url}',max_retries:2,"
                    "timeout_s:10,price_in_per_mtok:5.0,price_out_per_mtok:15.0}")

        def run(budget):
            return run_task(compose_config([
                "task=search", "mentors=openai_compatible", "interns=openai_compatible", "judge=openai_compatible",
                f"mentors.models=[{model('mentor-a')},{model('mentor-b')}]", f"interns.models=[{model('intern-a')}]",
                f"judge.spec={model('judge-x')}", f"paths.output_dir={tmp_path}",
                f"+paths.run_dir={tmp_path / 'run'}", "data.limit=3", "search.max_cases_in_flight=1",
                f"search.budget_usd={budget}", "progress=false", "logger=none"]))

        with pytest.raises(TaskFailed, match=r"^search stopped by its budget: spent \$\d+\.\d{4} of "
                                             r"search\.budget_usd=\$0\.0000 in this run folder, 2 case\(s\) not "
                                             r"started; raise search\.budget_usd \(or remove it\)"):
            run(1e-9)
        stopped = json.loads((tmp_path / "run" / "search" / "summary.json").read_text())
        summary = run(10.0)
    assert stopped["this_run"]["searched"] == 1 and stopped["stopped_by_budget"]
    assert summary["this_run"]["searched"] == 2 and summary["this_run"]["skipped_as_finished"] == 1
    assert summary["cases_ok"] + summary["cases_failed"] == 3 and summary["stopped_by_budget"] is None
    assert summary["budget_usd"] == 10.0 and summary["spent_usd"] > stopped["spent_usd"] > 0
