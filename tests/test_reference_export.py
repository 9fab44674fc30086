"""The reference-format export (`search/reference.jsonl`): its `scores` are aligned by depth."""

import asyncio
import json

import pytest
from scripted import Script, mentor_reply

from chiron.qc.trends import path_scores_of
from chiron.search.mics import SearchSettings, mics_search
from chiron.search.records import reference_record, success_record
from chiron.search.vanilla import vanilla_search


def searched_record(script, search=mics_search, method="mics", **settings):
    case = script.case()
    result, attempts = asyncio.run(search(case, script.roles, SearchSettings(**settings)))
    # through JSON, as the export reads records back from records.jsonl
    return json.loads(json.dumps(success_record(case, result, attempts, method, usage={}, wall_s=0.0)))


def steps_so_far(request):
    return request.messages[-1].text.split("Reasoning so far:")[-1].split("Now continue")[0].count("### Step")


def silent_at_first_depth(name):
    """Mentor `name` writes no step on an empty prefix, and continues normally after that."""
    normal = mentor_reply(name, 4)
    return lambda request: normal(request) if steps_so_far(request) else "I would rather not start this one."


def one_step_only(name):
    """Mentor `name` writes its first step, then never another."""
    return lambda request: "Nothing more to add." if steps_so_far(request) else \
        f"### Step 1: {name}1\n### The final answer is: right"


def test_a_mentor_without_a_step_at_some_depth_gets_null_there(tmp_path):
    # depth 1: C writes nothing, A (2/4) beats B (1/4); depth 2: C2 3/4 wins; depth 3: A3 2/4 beats C3 1/4
    s = Script(tmp_path, table={"A1": 2, "B1": 1, "A2": 1, "B2": 1, "C2": 3, "A3": 2, "B3": 1, "C3": 1})
    s.mentor_backends["C"].reply = silent_at_first_depth("C")
    record = searched_record(s, max_depth=3)
    assert record["selected_mentors"] == ["A", "C", "A"] and record["path_scores"] == [0.5, 0.75, 0.5]
    assert record["mentor_scores"]["C"][:1] == [0.75]  # ours: only the depths C wrote a step at

    ref = reference_record(record)
    assert set(ref["scores"]) == {"A", "B", "C"}
    assert all(len(scores) == 3 for scores in ref["scores"].values())  # one entry per depth
    assert ref["scores"]["C"][0] is None and ref["scores"]["C"][1:] == record["mentor_scores"]["C"]
    assert ref["scores"]["A"] == record["mentor_scores"]["A"] and ref["scores"]["B"] == record["mentor_scores"]["B"]
    # index = depth, so QC reads the selected mentor's own score at each depth from the export
    assert ref["scores"]["C"][1] == 0.75
    assert path_scores_of(ref) == record["path_scores"]
    assert ref["final_depth"] == "3" and ref["generated_by"] == ["A", "C", "A"]


def test_when_every_mentor_writes_every_depth_the_scores_are_unchanged(tmp_path):
    s = Script(tmp_path, table={"A1": 2, "B1": 3, "C1": 1, "B2": 3, "A2": 1, "C2": 1, "B3": 3, "A3": 1, "C3": 1})
    record = searched_record(s, max_depth=3)
    ref = reference_record(record)
    assert ref["scores"] == record["mentor_scores"]
    assert all(len(scores) == 3 for scores in ref["scores"].values())
    assert path_scores_of(ref) == record["path_scores"] == [0.75, 0.75, 0.75]


def test_a_depth_where_nobody_wrote_a_step_is_null_for_everyone(tmp_path):
    s = Script(tmp_path, mentors=("A", "B"), table={"A1": 2, "B1": 1})
    for name in ("A", "B"):
        s.mentor_backends[name].reply = one_step_only(name)
    record = searched_record(s, max_depth=3)
    assert record["selected_mentors"] == ["A"] and len(record["attempts"][-1]["depths"]) == 2
    ref = reference_record(record)
    assert ref["scores"] == {"A": [0.5, None], "B": [0.25, None]}
    assert path_scores_of(ref) == [0.5]


def test_vanilla_and_traceless_records_keep_their_lists(tmp_path):
    s = Script(tmp_path, table={"A1": 1, "A2": 2, "A3": 3, "A4": 4})
    record = searched_record(s, lambda case, roles, settings: vanilla_search(case, roles, settings, "A", True),
                             method="vanilla", max_depth=4)
    ref = reference_record(record)
    assert ref["scores"] == record["mentor_scores"] == {"A": [0.25, 0.5, 0.75, 1.0]}
    traceless = dict(record, method="mics", attempts=[])
    assert reference_record(traceless)["scores"] == record["mentor_scores"]


def test_scores_that_disagree_with_the_trace_are_refused(tmp_path):
    s = Script(tmp_path, table={"A1": 2, "B1": 3, "C1": 1, "B2": 3, "A2": 1, "C2": 1})
    record = searched_record(s, max_depth=2)
    record["mentor_scores"]["A"] = record["mentor_scores"]["A"][:1]
    with pytest.raises(ValueError, match="mentor 'A' has 1 scores but wrote a step at 2"):
        reference_record(record)
