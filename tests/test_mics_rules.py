"""Each MICS decision rule pinned with scripted model replies (spec §2)."""

import asyncio
import random

import pytest

from chiron.search.mics import SearchSettings, mics_search
from chiron.search.selection import competitiveness, pick_full_score, select_candidate
from chiron.search.steps import OPENING
from chiron.search.vanilla import vanilla_search
from scripted import Script


def run(script, **settings):
    return asyncio.run(mics_search(script.case(), script.roles, SearchSettings(**settings)))


def test_highest_score_is_selected_and_path_scores_recorded(tmp_path):
    # 4 intern runs: A1 2/4, B1 3/4, C1 1/4 -> B; then B2 reused 3/4 beats A2/C2
    s = Script(tmp_path, table={"A1": 2, "B1": 3, "C1": 1, "B2": 3, "A2": 1, "C2": 1,
                                "B3": 3, "A3": 1, "C3": 1, "B4": 3, "A4": 1, "C4": 1})
    result, attempts = run(s, max_depth=4)
    assert result.status == "max_depth"
    assert result.selected == ["B", "B", "B", "B"]
    assert result.path_scores == [0.75, 0.75, 0.75, 0.75]
    assert result.steps == ["B1", "B2", "B3", "B4"]
    assert result.final_answer == "right"
    assert len(attempts) == 1


def test_selected_mentor_reuses_its_next_step_without_calling(tmp_path):
    s = Script(tmp_path, table={"A1": 3, "B1": 1, "C1": 1, "A2": 3, "B2": 1, "C2": 1})
    result, _ = run(s, max_depth=2)
    # A was selected at depth 1: at depth 2 its candidate is A2 from its first continuation.
    assert s.mentor_calls() == {"A": 1, "B": 2, "C": 2}
    depth2 = {c["mentor"]: c for c in result.depths[1]["candidates"]}
    assert depth2["A"]["reused"] and depth2["A"]["steps"] == ["A2"] and depth2["A"]["continuation"] is None
    assert not depth2["B"]["reused"] and depth2["B"]["steps"] == ["B2"]


def test_tie_prefers_a_mentor_not_selected_before(tmp_path):
    s = Script(tmp_path, table={"A1": 2, "B1": 1, "C1": 1, "A2": 2, "B2": 2, "C2": 1})
    result, _ = run(s, max_depth=2)
    assert result.selected == ["A", "B"]  # A2 and B2 tie at 0.5; B has not been selected yet


def test_tie_among_fresh_mentors_is_a_seeded_draw():
    scores = {"A": 0.5, "B": 0.5, "C": 0.25}
    picks = {select_candidate(scores, [], random.Random(f"0:c:{i}")) for i in range(40)}
    assert picks == {"A", "B"}  # both tied mentors are drawn, C never
    assert select_candidate(scores, [], random.Random("7")) == select_candidate(scores, [], random.Random("7"))
    assert select_candidate(scores, ["A"], random.Random("x")) == "B"


def test_full_score_stops_and_takes_the_mentors_whole_continuation(tmp_path):
    s = Script(tmp_path, table={"A1": 2, "B1": 1, "C1": 1, "A2": 1, "B2": 4, "C2": 1})
    result, _ = run(s, max_depth=4)
    assert result.status == "full_score"
    assert result.selected == ["A", "B"]
    assert result.path_scores == [0.5, 1.0]
    assert result.steps == ["A1", "B2", "B3", "B4"]  # prefix + B's continuation after its step
    assert len(result.depths) == 2  # nothing searched after the full score


@pytest.mark.parametrize("mode,winner", [("product", "A"), ("sum", "B")])
def test_several_full_scores_pick_the_most_competitive_mentor(tmp_path, mode, winner):
    # 8 runs. A: 0.5, 0.5 -> product .25, 1+sum 2.0 ; B: .25, .875 -> product .219, 1+sum 2.125
    s = Script(tmp_path, mentors=("A", "B"), n_interns=4,
               table={"A1": 4, "B1": 2, "A2": 4, "B2": 7, "A3": 8, "B3": 8})
    result, _ = run(s, max_depth=4, competitiveness=mode)
    assert result.status == "full_score"
    assert result.selected == ["A", "B", winner]
    assert result.history["A"][:2] == [0.5, 0.5] and result.history["B"][:2] == [0.25, 0.875]


def test_competitiveness_formulas():
    assert competitiveness([0.5, 0.5, 1.0], "product") == 0.25
    assert competitiveness([0.5, 0.5, 1.0], "sum") == 3.0
    assert pick_full_score(["A", "B"], {"A": [0.5, 1], "B": [0.75, 1]}, "product", random.Random(0)) == "B"
    with pytest.raises(ValueError):
        competitiveness([1.0], "max")


def test_all_zero_depth_re_searches_with_fresh_samples(tmp_path):
    # attempt 0: every candidate 0 -> re-search; attempt 1: A1 full score
    s = Script(tmp_path, table=lambda attempt: {} if attempt == 0 else {"A1": 4})
    result, attempts = run(s, max_depth=4, max_retries=2)
    assert [a["status"] for a in attempts] == ["all_zero", "full_score"]
    assert result.status == "full_score" and result.selected == ["A"]
    assert s.mentor_calls() == {"A": 2, "B": 2, "C": 2}  # attempt 1 asked again: nothing served from cache
    usage = s.ledger.by_role_model()
    assert all(u["cache_hits"] == 0 for k, u in usage.items() if not k.startswith("judge/"))
    # verdicts do not depend on the attempt: the same answer is judged once and then reused
    assert usage["judge/judge"]["cache_hits"] > 0 and s.judge_backend.calls == 2


def test_all_zero_after_every_retry_fails_the_case(tmp_path):
    s = Script(tmp_path, table={})
    result, attempts = run(s, max_depth=4, max_retries=2)
    assert result.status == "all_zero" and not result.succeeded
    assert len(attempts) == 3 and all(a["status"] == "all_zero" for a in attempts)


def test_unparseable_answers_count_as_wrong_and_skip_the_judge(tmp_path):
    # every intern would answer right, but none writes the final-answer marker
    s = Script(tmp_path, mentors=("A",), table={"A1": 4}, unparseable={"A1"})
    result, _ = run(s, max_depth=2, max_retries=0)
    runs = result.depths[0]["candidates"][0]["interns"]
    assert len(runs) == 4 and not any(r["parsed"] or r["correct"] for r in runs)
    assert result.depths[0]["candidates"][0]["score"] == 0.0 and result.status == "all_zero"
    assert s.judge_backend.calls == 0 and all(r["judge_reply"] is None for r in runs)


def test_unparseable_stays_in_the_denominator(tmp_path):
    s = Script(tmp_path, mentors=("A", "B"), table={"A1": 2, "B1": 4, "A2": 4}, unparseable={"B1"})
    result, _ = run(s, max_depth=2)
    depth1 = {c["mentor"]: c["score"] for c in result.depths[0]["candidates"]}
    assert depth1 == {"A": 0.5, "B": 0.0}


def test_judge_reply_other_than_yes_is_wrong(tmp_path):
    s = Script(tmp_path, mentors=("A",), table={"A1": 4}, judge_text=lambda p: "Maybe, partly yes")
    result, _ = run(s, max_depth=1, max_retries=0)
    assert result.status == "all_zero"


def test_max_depth_finishes_with_the_selected_mentors_continuation(tmp_path):
    s = Script(tmp_path, table={"A1": 1, "B1": 2, "C1": 1, "B2": 1, "A2": 3, "C2": 1}, plan_len=5)
    result, _ = run(s, max_depth=2)
    assert result.status == "max_depth" and result.selected == ["B", "A"]
    assert result.steps == ["B1", "A2", "A3", "A4", "A5"]


def test_reference_option_two_steps_at_first_depth(tmp_path):
    s = Script(tmp_path, mentors=("A",), table={"A2": 2, "A3": 4})
    result, _ = run(s, max_depth=3, first_depth_steps=2)
    assert result.depths[0]["candidates"][0]["steps"] == ["A1", "A2"]
    assert result.status == "full_score" and result.steps == ["A1", "A2", "A3", "A4"]


def test_same_seed_same_search(tmp_path):
    table = {"A1": 2, "B1": 2, "C1": 2, "A2": 2, "B2": 2, "C2": 2, "A3": 2, "B3": 2, "C3": 2}
    first, _ = run(Script(tmp_path / "x", table=table), max_depth=3, seed=11)
    second, _ = run(Script(tmp_path / "y", table=table), max_depth=3, seed=11)
    assert first.selected == second.selected and len(set(first.selected)) == 3


def test_vanilla_writes_the_path_in_one_call_and_can_score_prefixes(tmp_path):
    s = Script(tmp_path, mentors=("A", "B"), table={"A1": 1, "A2": 2, "A3": 3, "A4": 4,
                                                    "B1": 1, "B2": 2, "B3": 3, "B4": 4})
    result, _ = asyncio.run(vanilla_search(s.case(), s.roles, SearchSettings(), mentor_name="A", score_paths=True))
    assert result.status == "vanilla" and result.steps == ["A1", "A2", "A3", "A4"]
    assert s.mentor_calls() == {"A": 1, "B": 0}
    assert result.path_scores == [0.25, 0.5, 0.75, 1.0]
    unscored, _ = asyncio.run(vanilla_search(s.case("c2"), s.roles, SearchSettings(), mentor_name="B"))
    assert unscored.path_scores == [] and s.mentor_calls()["B"] == 1


def test_mentor_prompt_continues_the_prefix(tmp_path):
    s = Script(tmp_path, mentors=("A",), table={"A1": 2, "A2": 4})
    seen = []
    inner = s.mentor_backends["A"].reply
    s.mentor_backends["A"].reply = lambda r: (seen.append(r.messages[-1].text), inner(r))[1]
    run(s, max_depth=3)
    assert OPENING in seen[0] and "### Step 1:" in seen[0]
