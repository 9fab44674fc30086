"""The MMRP builders' decisions, pinned with scripted writers and a corpus built in tmp_path."""

import asyncio
import hashlib
import json
import os

import pytest
from PIL import Image

from chiron.data.corpus import read_corpus
from chiron.data.sample import validate_sample
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.llm.types import BackendError
from chiron.mmrp import part1, part2, part3
from chiron.mmrp.levels import Levels
from chiron.mmrp.runner import Outcome, finished_items, latest_lines, log_summary, run_cases
from chiron.mmrp.scenarios import CANNOT_DETERMINE
from scripted import ScriptedBackend

GOOD_QA = """Question 1
Question: Which finding on CT best supports an acute subdural haematoma?
Options: A) Crescent-shaped hyperdense collection
B) Biconvex collection limited by sutures
C) Hypodense wedge-shaped cortex
Correct Answer: A) Crescent-shaped hyperdense collection
Rationale: Acute subdural blood is hyperdense and crescentic along the convexity."""


def save_png(path, size=(256, 256), shade=100):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("L", size, shade).save(path)


def corpus_line(case_id, groups, discussion="Subdural haematomas follow tearing of bridging veins.",
                annotated=True, **extra):
    return {"id": case_id, "title": "Acute subdural haematoma", "systems": ["Central nervous system"],
            "presentation": "Drowsy after a fall.", "age": "78 years", "gender": "Male",
            "image_groups": groups, "discussion": discussion, "certainty": "Diagnosis certain",
            "annotated": annotated, **extra}


def write_corpus(tmp_path, lines):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return [c for c in read_corpus(str(path), str(tmp_path / "images"))]


def writer(tmp_path, reply):
    spec = ModelSpec(name="scripted-writer", backend="openai", model="w", base_url="http://127.0.0.1:1/v1")
    backend = ScriptedBackend("writer", reply)
    return CachedModel(spec, backend, CallCache(str(tmp_path / "cache")), Ledger(), "writer"), backend


CAPTION = ("Axial CT shows a crescent-shaped hyperdense collection over the right convexity with 6 mm "
           "midline shift.")


def ct_group(tmp_path, case_id, n=2, keywords=(("crescent-shaped hyperdense collection",), ("midline shift",))):
    images = []
    for i in range(n):
        ref = f"{case_id}/ct_group1/{i}.png"
        save_png(tmp_path / "images" / ref, shade=40 + 10 * i)
        images.append({"path": ref, "keywords": list(keywords[i]) if i < len(keywords) else []})
    return {"modality": "CT", "caption": CAPTION, "images": images}


# -- Part 1 ------------------------------------------------------------------------------------

SETTINGS1 = part1.Part1Settings(levels=Levels(bounds=(10, 20, 30), pairs=(1, 1, 2, 3)))


def word_count(text):
    return len(text.split())


def test_part1_skips_cases_without_analysis_or_discussion(tmp_path):
    cases = write_corpus(tmp_path, [corpus_line("a", [], discussion="x"),
                                    corpus_line("b", [ct_group(tmp_path, "b")], discussion="")])
    model, backend = writer(tmp_path, lambda r: GOOD_QA)
    outcomes = [asyncio.run(part1.write_case_qa(c, model, word_count, SETTINGS1)) for c in cases]
    assert [(o.status, o.reason) for o in outcomes] == [("skipped", "no imaging analysis"),
                                                        ("skipped", "no discussion")]
    assert backend.calls == 0


@pytest.mark.parametrize("discussion_words, level, pairs", [(1, 1, 1), (12, 2, 2), (40, 3, 3)])
def test_part1_level_sets_the_number_of_pairs_asked_for(tmp_path, discussion_words, level, pairs):
    # the caption alone is 15 words, so with bounds (10, 20, 30) the level starts at 1
    case = write_corpus(tmp_path, [corpus_line("a", [ct_group(tmp_path, "a")],
                                               discussion=" ".join(["vein"] * discussion_words))])[0]
    asked = []
    model, _ = writer(tmp_path, lambda r: asked.append(r.messages[-1].text) or GOOD_QA)
    outcome = asyncio.run(part1.write_case_qa(case, model, word_count, SETTINGS1))
    assert outcome.info["level"] == level and outcome.info["requested"] == pairs
    assert asked[0].startswith(f"Write {pairs} question(s)")


def test_part1_drops_and_counts_bad_pairs(tmp_path):
    case = write_corpus(tmp_path, [corpus_line("a", [ct_group(tmp_path, "a")], discussion=" ".join(["v"] * 40))])[0]
    referential = GOOD_QA.replace("Question 1", "Question 2").replace("on CT best", "in this case best")
    off_topic = ("Question 3\nQuestion: Which flour makes the best bread?\nOptions: A) Rye\nB) Spelt\nC) Wheat\n"
                 "Correct Answer: C\nRationale: Gluten.")
    broken = "Question 4\nQuestion: Which?\nOptions: A) x\nB) y\nCorrect Answer: A\nRationale: r"
    extra = [GOOD_QA.replace("Question 1", f"Question {n}") for n in (5, 6, 7)]
    reply = "\n\n".join([GOOD_QA, referential, off_topic, broken, *extra])
    model, _ = writer(tmp_path, lambda r: reply)
    outcome = asyncio.run(part1.write_case_qa(case, model, word_count, SETTINGS1))
    assert len(outcome.items) == 3  # level 3 asks for three: the first good one and two of the extras
    assert dict(outcome.drops) == {"refers to its case or image": 1, "no medical subject": 1, "unparseable": 1,
                                   "more pairs than requested": 1}
    sample = part1.qa_sample(outcome.items[0])
    validate_sample(sample.to_json())
    assert sample.images == [] and "A) Crescent-shaped" in sample.messages[0]["content"]
    assert sample.messages[1]["content"].endswith("### The final answer is: A) Crescent-shaped hyperdense collection")


# -- Part 2 ------------------------------------------------------------------------------------


def test_part2_filters_in_order_and_writes_both_formats(tmp_path):
    group = ct_group(tmp_path, "a", n=2)
    # a byte-identical copy of image 0, an image too small, and a corrupt file
    dup = "a/ct_group1/dup.png"
    (tmp_path / "images" / dup).write_bytes((tmp_path / "images" / "a/ct_group1/0.png").read_bytes())
    save_png(tmp_path / "images" / "a/ct_group1/small.png", size=(195, 400))
    (tmp_path / "images" / "a/ct_group1/bad.png").write_bytes(b"not a png")
    group["images"] += [{"path": dup}, {"path": "a/ct_group1/small.png"}, {"path": "a/ct_group1/bad.png"}]
    case = write_corpus(tmp_path, [corpus_line("a", [group])])[0]
    result = part2.align_case(case, part2.Part2Settings())
    assert dict(result.drops) == {"duplicate image (same MD5)": 1, "image under 196x196": 1, "unreadable image": 1}
    assert result.unreadable == ["a/ct_group1/bad.png"]
    coarse, precise = result.items
    assert [coarse["format"], precise["format"]] == ["coarse", "precise"]
    assert coarse["image_refs"] == ["a/ct_group1/0.png", "a/ct_group1/1.png"]
    assert coarse["answer"] == CAPTION
    assert precise["answer"] == ("Axial CT shows a crescent-shaped hyperdense collection (image 1) over the right "
                                 "convexity with 6 mm midline shift (image 2).")
    for item in result.items:
        validate_sample(part2.alignment_sample(item).to_json())


def test_part2_duplicates_are_found_by_content_across_groups(tmp_path):
    first, second = ct_group(tmp_path, "a", n=1), ct_group(tmp_path, "a", n=1)
    copy = "a/mri_group2/0.png"
    os.makedirs(tmp_path / "images" / "a/mri_group2")
    (tmp_path / "images" / copy).write_bytes((tmp_path / "images" / "a/ct_group1/0.png").read_bytes())
    second["images"] = [{"path": copy}]
    case = write_corpus(tmp_path, [corpus_line("a", [first, second])])[0]
    result = part2.align_case(case, part2.Part2Settings(formats=("coarse",)))
    assert result.drops == {"duplicate image (same MD5)": 1, "group without usable images": 1}
    assert hashlib.md5((tmp_path / "images" / copy).read_bytes()).hexdigest() == part2.file_md5(
        str(tmp_path / "images" / "a/ct_group1/0.png"))


@pytest.mark.parametrize("n_images, kept", [(10, True), (11, False)])
def test_part2_keyframe_limit(tmp_path, n_images, kept):
    group = ct_group(tmp_path, "a", n=n_images)
    case = write_corpus(tmp_path, [corpus_line("a", [group])])[0]
    result = part2.align_case(case, part2.Part2Settings(formats=("coarse",)))
    assert bool(result.items) is kept
    assert result.drops == ({} if kept else {"group with more than 10 keyframes": 1})


@pytest.mark.parametrize("keywords, descriptions, expected", [
    ([["midline shift"], []], ["", ""], "...6 mm midline shift (image 1)."),
    ([["MIDLINE SHIFT"], ["midline shift"]], ["", ""], "...6 mm midline shift (image 1, image 2)."),
    ([["absent phrase"], []], ["Right convexity haematoma.", ""], "...midline shift. Right convexity haematoma (image 1)."),
    ([[], []], ["", ""], None),
])
def test_precise_tags(keywords, descriptions, expected):
    images = [part2.CaseImage(path=f"/x/{i}.png", ref=f"{i}.png", description=d, keywords=tuple(k))
              for i, (k, d) in enumerate(zip(keywords, descriptions))]
    tagged = part2.tag_images(CAPTION, images)
    if expected is None:
        assert tagged is None
    else:
        assert tagged.endswith(expected.removeprefix("..."))


# -- Part 3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario, reply, answer", [
    ("patient_to_doctor", "- Question: Doctor, is he bleeding inside his head?\n- Correct Answer: yes.", "Yes"),
    ("patient_to_doctor", "- Question: Will he be fine?\n- Correct Answer: This cannot be determined.",
     CANNOT_DETERMINE),
    ("doctor_to_doctor", "- Question: Colleague, what explains the drowsiness?\n- Correct Answer: Mass effect",
     "Mass effect"),
    ("patient_to_doctor", "- Question: Is it bad?\n- Correct Answer: Subdural haematoma", None),
    ("intern_to_senior", "- Question: Professor, which collection is this?\n- Correct Answer: No", None),
    ("intern_to_senior", "Sorry, I cannot write that.", None),
])
def test_part3_writes_search_records_that_obey_the_scenario(tmp_path, scenario, reply, answer):
    group = ct_group(tmp_path, "a", n=2)
    (tmp_path / "images" / "a/ct_group1/bad.png").write_bytes(b"broken")
    group["images"].append({"path": "a/ct_group1/bad.png"})
    case = write_corpus(tmp_path, [corpus_line("a", [group])])[0]
    model, _ = writer(tmp_path, lambda r: reply)
    outcome = asyncio.run(part3.write_case_vqa(case, scenario, model, part3.Part3Settings()))
    assert outcome.status == "ok" and outcome.info["unreadable_images"] == ["a/ct_group1/bad.png"]
    if answer is None:
        assert outcome.items == [] and sum(outcome.drops.values()) == 1
        return
    (record,) = outcome.items
    assert record["rid"] == part3.item_key("a", scenario) == {"patient_to_doctor": "a-p2d",
                                                              "doctor_to_doctor": "a-d2d"}[scenario]
    assert record["messages"][1]["content"] == f"**Correct Answer:** {answer}"
    assert record["images"] == ["a/ct_group1/0.png", "a/ct_group1/1.png"]
    assert record["caption"] == ["According to the <image>\n<image>\n, " + CAPTION]
    # the search reads it as it reads the reference format
    from chiron.search.case import parse_record

    searched = parse_record(record, str(tmp_path / "images"))
    assert searched.answer == answer and searched.scenario == scenario


def test_part3_scenarios_take_turns_or_all():
    one = part3.Part3Settings()
    assert [one.scenarios_for(i) for i in range(4)] == [("patient_to_doctor",), ("doctor_to_doctor",),
                                                         ("intern_to_senior",), ("patient_to_doctor",)]
    assert part3.Part3Settings(per_case="all").scenarios_for(7) == one.scenarios
    with pytest.raises(ValueError, match="per_case"):
        part3.Part3Settings(per_case="some")


def test_reasoning_sample_groups_images_by_modality(tmp_path):
    record = {"rid": "a-p2d", "method": "mics", "question": "Is he bleeding?", "scenario": "patient_to_doctor",
              "images": ["a/ct_group1/0.png", "a/xray_group2/0.png", "a/ct_group1/1.png"],
              "reasoning": "### Step 1: Look.\n### The final answer is: Yes", "path_scores": [0.5, 1.0]}
    sample = part3.reasoning_sample(record, "/root")
    validate_sample(sample.to_json())
    assert "Modality 1 (ct): <image><image>; Modality 2 (xray): <image>" in sample.messages[0]["content"]
    assert sample.images == ["/root/a/ct_group1/0.png", "/root/a/ct_group1/1.png", "/root/a/xray_group2/0.png"]
    assert sample.messages[1]["content"] == record["reasoning"]


# -- the resumable loop ------------------------------------------------------------------------


def test_runner_resumes_errors_only(tmp_path):
    attempts = {"a": 0, "b": 0, "c": 0}

    def unit(key, fail_first):
        async def fn():
            attempts[key] += 1
            if fail_first and attempts[key] == 1:
                raise BackendError("rate limited")
            return Outcome("ok", items=[{"key": key}]) if key != "c" else Outcome("skipped", reason="no discussion")
        return key, fn

    work = [unit("a", False), unit("b", True), unit("c", False)]
    first = asyncio.run(run_cases(work, str(tmp_path), Ledger(), "test", progress=False))
    assert first == {"ran_now": 3, "skipped_as_finished": 0, "not_started": 0, "stopped_by": None}
    assert latest_lines(str(tmp_path))["b"]["status"] == "error"
    assert latest_lines(str(tmp_path))["b"]["kind"] == "transient"
    second = asyncio.run(run_cases(work, str(tmp_path), Ledger(), "test", progress=False))
    assert second == {"ran_now": 1, "skipped_as_finished": 2, "not_started": 0, "stopped_by": None}
    assert attempts == {"a": 1, "b": 2, "c": 1}
    assert [i["key"] for i in finished_items(str(tmp_path))] == ["a", "b"]
    summary = log_summary(str(tmp_path))
    assert summary["cases"] == {"ok": 2, "skipped": 1} and summary["skipped_by_reason"] == {"no discussion": 1}


def test_runner_stops_at_a_setup_failure_and_retries_it_on_the_next_run(tmp_path):
    calls = []
    key_set = {"value": False}

    def unit(key):
        async def fn():
            calls.append(key)
            if not key_set["value"]:
                raise BackendError("writer: model 'w': environment variable K is not set", kind="setup")
            return Outcome("ok", items=[{"key": key}])
        return key, fn

    work = [unit(k) for k in "abcdef"]
    first = asyncio.run(run_cases(work, str(tmp_path), Ledger(), "test", max_in_flight=1, progress=False))
    assert first["stopped_by"] == "writer: model 'w': environment variable K is not set"
    assert first["ran_now"] == 1 and first["not_started"] == 5 and calls == ["a"]
    key_set["value"] = True
    second = asyncio.run(run_cases(work, str(tmp_path), Ledger(), "test", max_in_flight=2, progress=False))
    assert second["ran_now"] == 6 and second["stopped_by"] is None
    assert [i["key"] for i in finished_items(str(tmp_path))] == list("abcdef")
