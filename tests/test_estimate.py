"""task=estimate: call counts checked against a hand count, real searches' ledgers inside [low, high],
prices and "local", and the Part 3 input that does not exist yet."""

import asyncio
import json

import pytest
from conftest import compose_config
from scripted import Script

from chiron.main import TASKS, run_task
from chiron.search.call_count import Shape, case_calls, totals
from chiron.search.mics import SearchSettings, mics_search
from chiron.utils.errors import TaskFailed

ROLES = ("mentor", "intern", "judge")


def _estimate(tmp_path, *overrides):
    # judge=tiny: a model judge, so its calls are counted (judge=rules, the default, makes none)
    cfg = compose_config(["task=estimate", f"paths.output_dir={tmp_path}", f"+paths.run_dir={tmp_path / 'run'}",
                          "progress=false", "judge=tiny", *overrides])
    result = run_task(cfg)
    assert json.loads((tmp_path / "run" / "estimate.json").read_text())["rows"] == result["rows"]
    return result


def test_the_task_is_registered():
    assert TASKS["estimate"] == "chiron.search.estimate:run"


def test_high_bound_equals_a_hand_count(tmp_path, capsys):
    # 2 cases, max_depth 2, 2 mentors, 2 interns x 2 temperatures, economy off, 2 re-searches.
    # Per attempt and depth: each mentor is called once; each of the 2 candidates gets 2 x 2 intern
    # runs; every run's answer goes to the judge. Depths 1-2, attempts 0-2:
    #   a mentor: 1 x 2 depths x 3 attempts x 2 cases = 12
    #   an intern: 2 candidates x 2 temperatures x 2 depths x 3 attempts x 2 cases = 48
    #   the judge: 2 candidates x 4 runs x 2 depths x 3 attempts x 2 cases = 96
    result = _estimate(tmp_path, "data.limit=2", "search.max_depth=2", "search.max_retries=2",
                       "search.economy=false")
    high = {key: row["high"]["calls"] for key, row in result["rows"].items()}
    assert high == {"mentor/tiny-mentor-a": 12, "mentor/tiny-mentor-b": 12, "intern/tiny-intern-a": 48,
                    "intern/tiny-intern-b": 48, "judge/tiny-judge": 96}
    # low: depth 1 of the first attempt only, every run made, only the winner's 4 answers judged
    low = {key: row["low"]["calls"] for key, row in result["rows"].items()}
    assert low == {"mentor/tiny-mentor-a": 2, "mentor/tiny-mentor-b": 2, "intern/tiny-intern-a": 8,
                   "intern/tiny-intern-b": 8, "judge/tiny-judge": 8}
    assert result["cases"] == 2 and result["total"]["high"]["calls"] == 12 * 2 + 48 * 2 + 96
    # tiny models have no price: no dollars, and the table says so
    printed = capsys.readouterr().out
    assert all(row["local"] and row["high"]["cost_usd"] == 0 for row in result["rows"].values())
    assert "local" in printed and "mentor/tiny-mentor-a" in printed and "total" in printed
    assert "assumed:" in printed and "chars/4" in printed


def test_economy_and_vanilla_counts():
    shape = Shape("mics", mentors=3, interns=2, temperatures=2, max_depth=4, max_retries=2, economy=True, wave=2)
    # the winner's 4 runs, the other two candidates' first wave of 2; the rule settles every right answer
    assert totals(case_calls(shape, "low")) == {"mentor": 3, "intern": 8, "judge": 0}
    assert totals(case_calls(shape, "high")) == {"mentor": 36, "intern": 144, "judge": 144}  # economy never adds
    vanilla = Shape("vanilla", mentors=3, interns=2, temperatures=2, max_depth=4, max_retries=2, score_paths=True)
    assert totals(case_calls(vanilla, "high")) == {"mentor": 3, "intern": 16, "judge": 16}  # a 4-step path
    assert totals(case_calls(Shape("vanilla", 3, 2, 2), "expected")) == {"mentor": 1, "intern": 0, "judge": 0}


TABLES = {  # intern runs (of 4) answering right, by the tag of the prefix's last step
    "full_at_once": {"A1": 4, "B1": 1},
    "climbing": {"A1": 1, "B1": 2, "B2": 3, "A2": 2, "B3": 4},
    "to_max_depth": {"A1": 2, "B1": 1, "A2": 3, "B2": 1, "A3": 3, "B3": 3},
    "all_zero_then_right": lambda attempt: {"A1": 4} if attempt == 2 else {},
    "never_right": {},
}


@pytest.mark.parametrize("economy", [True, False])
@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_real_searchs_ledger_lies_within_low_and_high(tmp_path, table, economy):
    script = Script(tmp_path, mentors=("A", "B"), table=TABLES[table], plan_len=2)
    script.roles.rule_verdicts = economy  # what search.economy sets in the real job
    settings = SearchSettings(max_depth=3, max_retries=2, economy=economy)
    cases = [script.case(f"c{i}") for i in range(3)]

    async def go():
        for case in cases:
            await mics_search(case, script.roles, settings)

    asyncio.run(go())
    made = {role: 0 for role in ROLES}
    for key, usage in script.ledger.by_role_model().items():
        made[key.split("/")[0]] += usage["calls"]
    shape = Shape("mics", mentors=2, interns=2, temperatures=2, max_depth=3, max_retries=2, economy=economy)
    low, high = totals(case_calls(shape, "low")), totals(case_calls(shape, "high"))
    for role in ROLES:
        assert len(cases) * low[role] <= made[role] <= len(cases) * high[role], (role, made, low, high)


def test_the_high_bound_is_reached_when_every_attempt_ends_all_zero_at_max_depth(tmp_path):
    # One-step plans: the selected mentor has nothing left to reuse, so every mentor is called at
    # every depth; depth 3 scores 0 everywhere in attempts 0 and 1 (a re-search each time).
    partial = {"A1": 1, "B1": 1, "A2": 1, "B2": 1}
    script = Script(tmp_path, mentors=("A", "B"), table=lambda attempt: {**partial, "A3": int(attempt == 2)}, plan_len=1)
    settings = SearchSettings(max_depth=3, max_retries=2, economy=False)
    result, attempts = asyncio.run(mics_search(script.case("c0"), script.roles, settings))
    assert result.status == "max_depth" and [a["status"] for a in attempts] == ["all_zero", "all_zero", "max_depth"]
    made = {role: 0 for role in ROLES}
    for key, usage in script.ledger.by_role_model().items():
        made[key.split("/")[0]] += usage["calls"]
    shape = Shape("mics", mentors=2, interns=2, temperatures=2, max_depth=3, max_retries=2, economy=False)
    assert made == totals(case_calls(shape, "high")) == {"mentor": 18, "intern": 72, "judge": 72}


def test_prices_give_dollars_that_grow_from_low_to_high(tmp_path):
    result = _estimate(tmp_path, "mentors=paper", "judge=paper", "interns=paper")
    mentor = result["rows"]["mentor/gpt-4o"]
    assert not mentor["local"] and 0 < mentor["low"]["cost_usd"] < mentor["expected"]["cost_usd"] < mentor["high"]["cost_usd"]
    assert result["rows"]["intern/qwen2-vl-7b"]["local"]  # served by the user: no price configured
    # high: every call writes max_tokens
    assert mentor["high"]["tokens_out"] == mentor["high"]["calls"] * 2048
    for scenario in ("low", "expected", "high"):
        total = sum(row[scenario]["cost_usd"] for row in result["rows"].values())
        assert result["total"][scenario]["cost_usd"] == pytest.approx(total, abs=1e-5)
    assert result["cases"] == 12 and result["assumptions"]["image_tokens"]["openai"] == 765


def test_a_part3_input_that_does_not_exist_yet_needs_a_case_count(tmp_path):
    with pytest.raises(TaskFailed, match=r"estimate: cannot read the search input .*\+estimate\.cases=N"):
        _estimate(tmp_path, "data=mmrp_part3")
    result = _estimate(tmp_path, "data=mmrp_part3", "+estimate.cases=40")
    assert result["cases"] == 40 and "bundled demo" in result["source"]
    assert result["rows"]["mentor/tiny-mentor-a"]["high"]["calls"] == 40 * 4 * 3  # 4 depths x 3 attempts


def test_unknown_estimate_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="estimate: unknown keys"):
        _estimate(tmp_path, "+estimate.casses=3")
