"""MMRP Part 1's quality check (paper App. A.1: low-quality pairs are removed), pinned with
scripted writers and checkers: keep, drop counted by reason, unreadable verdicts, the switch,
and resume."""

import asyncio
import json
from typing import ClassVar

import pytest
from conftest import compose_config
from scripted import ScriptedBackend

from chiron.data.corpus import read_corpus
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.llm.types import BackendError
from chiron.mmrp import job, part1
from chiron.mmrp.levels import Levels
from chiron.mmrp.parsing import parse_quality_verdict
from chiron.mmrp.prompts import QUALITY_PROBLEMS, QUALITY_SYSTEM, quality_messages
from chiron.utils.jsonl import read_jsonl

QA = """Question {n}
Question: Which CT finding best supports an acute subdural haematoma{variant}?
Options: A) Crescent-shaped hyperdense collection
B) Biconvex collection limited by sutures
C) Hypodense wedge-shaped cortex
Correct Answer: A) Crescent-shaped hyperdense collection
Rationale: Acute subdural blood is hyperdense and crescentic along the convexity."""
KEEP = "Verdict: KEEP\nProblem: none\nReason: Answerable, one clear answer, sound rationale."
DROP_OPTIONS = "Verdict: DROP\nProblem: options\nReason: Option C is not a plausible distractor."
SETTINGS = part1.Part1Settings(levels=Levels(bounds=(10, 20, 30), pairs=(1, 1, 2, 3)))


def qa_reply(n_pairs):
    return "\n\n".join(QA.format(n=n, variant=f" (variant {n})") for n in range(1, n_pairs + 1))


def case_line(case_id, discussion_words=1):
    return {"id": case_id, "title": "Acute subdural haematoma", "systems": ["Central nervous system"],
            "presentation": f"Drowsy after a fall (patient {case_id}).", "age": "78 years", "gender": "Male",
            "image_groups": [{"modality": "CT", "caption": "Axial CT shows a crescent-shaped hyperdense collection.",
                              "images": []}],
            "discussion": " ".join(["Bridging veins tear."] * discussion_words), "certainty": "Diagnosis certain"}


def write_corpus(tmp_path, lines):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def model(tmp_path, name, reply, role):
    backend = ScriptedBackend(name, reply)
    spec = ModelSpec(name=name, backend="openai", model=name, base_url="http://127.0.0.1:1/v1")
    return CachedModel(spec, backend, CallCache(str(tmp_path / "cache")), Ledger(), role), backend


def words(text):
    return len(text.split())


def check_one_case(tmp_path, checker_reply, n_pairs=1, discussion_words=1):
    case = next(iter(read_corpus(str(write_corpus(tmp_path, [case_line("a", discussion_words)])),
                                 str(tmp_path / "images"))))
    writer, _ = model(tmp_path, "writer", lambda r: qa_reply(n_pairs), "writer")
    seen = []
    checker, _ = model(tmp_path, "checker", lambda r: seen.append(r) or checker_reply(r), "quality_checker")
    outcome = asyncio.run(part1.write_case_qa(case, writer, words, SETTINGS, checker))
    return outcome, seen


def test_a_sound_pair_is_kept_with_its_verdict(tmp_path):
    outcome, seen = check_one_case(tmp_path, lambda r: KEEP)
    (item,) = outcome.items
    assert item["id"] == "a/0" and item["quality"] == {
        "verdict": "keep", "reason": "Answerable, one clear answer, sound rationale."}
    assert dict(outcome.drops) == {}
    quality = outcome.info["quality"]
    assert {k: quality[k] for k in ("checker", "checked", "keep", "drop", "unreadable")} == {
        "checker": "checker", "checked": 1, "keep": 1, "drop": 0, "unreadable": 0}
    assert quality["verdicts"][0]["block"] == 0 and quality["verdicts"][0]["reply"] == KEEP
    # the checker sees the case and the whole pair, and is not sampled
    (request,) = seen
    assert request.sampling.temperature == 0.0
    assert request.messages[0].role == "system" and "KEEP or DROP" in request.messages[0].text
    user = request.messages[-1].text
    for part in ("Drowsy after a fall (patient a).", "Bridging veins tear.", "Which CT finding", "B) Biconvex collection",
                 "A) Crescent-shaped hyperdense collection", "Acute subdural blood is hyperdense"):
        assert part in user, part


def test_a_dropped_pair_is_counted_by_its_problem(tmp_path):
    outcome, _ = check_one_case(tmp_path, lambda r: DROP_OPTIONS)
    assert outcome.items == []
    assert dict(outcome.drops) == {"low quality: weak or overlapping options": 1}
    verdict = outcome.info["quality"]["verdicts"][0]
    assert verdict["verdict"] == "drop" and verdict["problem"] == "options"
    assert verdict["reason"] == "Option C is not a plausible distractor."


def test_each_pair_is_checked_and_the_kept_ones_numbered_in_order(tmp_path):
    # level 3: three pairs; the judge-style checker says No to the second (Yes/No read as keep/drop)
    outcome, seen = check_one_case(tmp_path, lambda r: "No" if "(variant 2)" in r.messages[-1].text else "Yes",
                                   n_pairs=3, discussion_words=40)
    assert len(seen) == 3
    assert [(i["id"], i["question"].endswith("(variant 3)?")) for i in outcome.items] == [("a/0", False),
                                                                                          ("a/1", True)]
    assert dict(outcome.drops) == {"low quality: no problem named": 1}
    assert [v["block"] for v in outcome.info["quality"]["verdicts"]] == [0, 1, 2]


def test_an_unreadable_verdict_keeps_the_pair_and_is_counted(tmp_path):
    outcome, _ = check_one_case(tmp_path, lambda r: "Question 1\nQuestion: What?")
    (item,) = outcome.items
    assert item["quality"]["verdict"] == "unreadable" and dict(outcome.drops) == {}
    assert outcome.info["quality"]["unreadable"] == 1


def test_pairs_the_rules_drop_are_never_shown_to_the_checker(tmp_path):
    case = next(iter(read_corpus(str(write_corpus(tmp_path, [case_line("a")])), str(tmp_path / "images"))))
    writer, _ = model(tmp_path, "writer", lambda r: QA.format(n=1, variant=" in this case"), "writer")
    checker, backend = model(tmp_path, "checker", lambda r: KEEP, "quality_checker")
    outcome = asyncio.run(part1.write_case_qa(case, writer, words, SETTINGS, checker))
    assert backend.calls == 0 and dict(outcome.drops) == {"refers to its case or image": 1}


@pytest.mark.parametrize("reply, keep, problem, reason", [
    (KEEP, True, None, "Answerable, one clear answer, sound rationale."),
    ("**Verdict:** drop\n**Problem:** rationale, answer\n**Reason:** It argues for B.", False, "rationale",
     "It argues for B."),
    ("- Verdict: Drop\n- Problem: something else\n- Reason: vague", False, None, "vague"),
    ("Yes", True, None, ""),
    ("No.", False, None, ""),
    ("DROP - the options overlap", False, None, "the options overlap"),
    ("Verdict: maybe\nReason: unsure", None, None, "unsure"),
    ("I cannot review this.", None, None, "cannot review this."),
    ("", None, None, ""),
])
def test_verdict_parsing(reply, keep, problem, reason):
    verdict = parse_quality_verdict(reply, tuple(QUALITY_PROBLEMS))
    assert (verdict.keep, verdict.problem, verdict.reason) == (keep, problem, reason)


def test_every_problem_code_has_a_drop_reason_and_is_offered_to_the_checker(tmp_path):
    assert set(part1.QUALITY_DROP_REASONS) == set(QUALITY_PROBLEMS) | {None}
    assert all(reason.startswith("low quality: ") for reason in part1.QUALITY_DROP_REASONS.values())
    qa = {"question": "Q?", "options": {"A": "a", "B": "b", "C": "c"}, "answer": "A", "answer_text": "a",
          "rationale": "r"}
    case = next(iter(read_corpus(str(write_corpus(tmp_path, [case_line("a")])), str(tmp_path / "images"))))
    system = quality_messages(case, qa)[0].text
    assert all(f"- {code}: {meaning}" in system for code, meaning in QUALITY_PROBLEMS.items())


# -- the job: config switch, checker choice, resume --------------------------------------------


class ScriptedPool:
    """Stands in for the job's BackendPool: one scripted backend per model name."""

    backends: ClassVar[dict] = {}

    def get(self, spec):
        return self.backends[spec.name]

    async def aclose(self):
        pass


def is_check(request):
    return request.messages[0].text.startswith(QUALITY_SYSTEM[:40])


@pytest.fixture
def part1_job(tmp_path, monkeypatch):
    """run(overrides, backends) runs task=build_part1 on a 3-case corpus with scripted models."""
    corpus = write_corpus(tmp_path, [case_line("a"), case_line("b"), case_line("c")])
    monkeypatch.setattr(job, "BackendPool", ScriptedPool)
    monkeypatch.setattr(job, "token_counter", lambda name: words)

    def run(overrides=(), **backends):
        ScriptedPool.backends = backends
        cfg = compose_config(["writer=openai_compatible", "writer.tokenizer=none", "corpus=local",
                              f"corpus.path={corpus}", f"corpus.image_root={tmp_path / 'images'}",
                              f"paths.output_dir={tmp_path / 'out'}", f"+paths.run_dir={tmp_path / 'run'}",
                              "progress=false", *overrides])
        return job.run_part1(cfg)
    return run


def writer_that_checks(verdict):
    """The default: the writer's own model writes the pairs and checks them."""
    return ScriptedBackend("writer", lambda r: verdict(r) if is_check(r) else qa_reply(1))


def test_job_checks_with_the_writer_by_default_and_counts_drops(part1_job, tmp_path):
    backend = writer_that_checks(lambda r: DROP_OPTIONS if "(patient b)" in r.messages[-1].text else KEEP)
    summary = part1_job(writer=backend)
    assert backend.calls == 6  # three writer calls, three checks, all on the writer's own model
    assert summary["pairs"] == 2 and summary["items_dropped_by_reason"] == {
        "low quality: weak or overlapping options": 1}
    assert summary["quality_check"] == {"enabled": True, "cases_checked": 3, "checkers": ["writer"],
                                        "checked": 3, "keep": 2, "drop": 1, "unreadable": 0}
    assert summary["usage_all_runs"]["quality_checker/writer"]["calls"] == 3
    assert summary["usage_all_runs"]["writer/writer"]["calls"] == 3
    qa = list(read_jsonl(str(tmp_path / "run" / "part1" / "qa.jsonl")))
    assert [item["quality"]["verdict"] for item in qa] == ["keep", "keep"]


def test_job_switch_off_makes_no_checker_call(part1_job):
    backend = writer_that_checks(lambda r: pytest.fail("the checker was called"))
    summary = part1_job(["mmrp.part1.quality.enabled=false"], writer=backend)
    assert backend.calls == 3 and summary["pairs"] == 3
    assert summary["quality_check"]["enabled"] is False and summary["quality_check"]["checked"] == 0
    assert not any(k.startswith("quality_checker/") for k in summary["usage_all_runs"])


def test_job_checker_can_be_another_model(part1_job):
    writer = ScriptedBackend("writer", lambda r: qa_reply(1))
    judge = ScriptedBackend("tiny-judge", lambda r: "Yes")
    summary = part1_job(["judge=tiny", "mmrp.part1.quality.checker=${judge.spec}"], writer=writer, **{"tiny-judge": judge})
    assert writer.calls == 3 and judge.calls == 3 and summary["pairs"] == 3
    assert summary["quality_check"]["checkers"] == ["tiny-judge"]


def test_job_resume_skips_finished_cases_and_retries_a_failed_check(part1_job, tmp_path):
    failing = {"on": True}

    def verdict(request):
        if failing["on"] and "(patient b)" in request.messages[-1].text:
            raise BackendError("rate limited")
        return KEEP
    first = writer_that_checks(verdict)
    summary = part1_job(["mmrp.max_cases_in_flight=1"], writer=first)
    assert summary["cases"] == {"ok": 2, "error": 1} and summary["pairs"] == 2
    assert first.calls == 6  # 3 writer calls, 3 check calls (one failed)

    failing["on"] = False
    second = writer_that_checks(verdict)
    summary = part1_job(["mmrp.max_cases_in_flight=1"], writer=second)
    # only the failed case runs again: its writer reply comes from the call cache, the check is asked again
    assert second.calls == 1 and summary["this_run"]["skipped_as_finished"] == 2
    assert summary["cases"] == {"ok": 3} and summary["pairs"] == 3 and summary["quality_check"]["checked"] == 3
    lines = list(read_jsonl(str(tmp_path / "run" / "part1" / "log.jsonl")))
    assert [line["status"] for line in lines] == ["ok", "error", "ok", "ok"]
