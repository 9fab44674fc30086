"""MMRP Part 1 (paper App. A.1): multiple-choice QA quadruplets written by an LLM from the text
of a case (question, 3-5 options, answer, rationale), as many as the case's information level
allows; unusable pairs are dropped with a counted reason.

The paper also removes "low-quality" pairs without saying how. Here a checker model (by default
the writer itself) reads each pair that passed the rule filters, with its case, and says keep or
drop with the main problem; drops are counted as "low quality: <problem>".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from chiron.data.corpus import CaseRecord
from chiron.data.sample import Sample, single_turn
from chiron.llm.client import CachedModel
from chiron.mmrp.filters import DEFAULT_REFERENTIAL, has_medical_subject, referential_phrase
from chiron.mmrp.levels import Levels, information_tokens
from chiron.mmrp.parsing import MultipleChoice, parse_multiple_choice, parse_quality_verdict, split_blocks
from chiron.mmrp.prompts import QUALITY_PROBLEMS, part1_messages, quality_messages
from chiron.mmrp.runner import Outcome, latest_lines
from chiron.search.steps import FINAL_MARKER

SOURCE = "mmrp_part1"


@dataclass(frozen=True)
class Part1Settings:
    levels: Levels
    temperature: float = 0.7
    min_options: int = 3
    max_options: int = 5
    referential_phrases: tuple[str, ...] = DEFAULT_REFERENTIAL
    quality_temperature: float = 0.0  # a verdict should not be sampled
    quality_max_tokens: int | None = None  # None: the checker spec's own max_tokens


# The drop reason counted for each problem a checker can name (None: it named none it was offered).
QUALITY_DROP_REASONS = {
    "unanswerable": "low quality: not answerable from the case",
    "answer": "low quality: no single correct option",
    "options": "low quality: weak or overlapping options",
    "medical": "low quality: not medically meaningful",
    "rationale": "low quality: rationale does not support the answer",
    None: "low quality: no problem named",
}
QUALITY_VERDICTS = ("keep", "drop", "unreadable")
MAX_REPLY_CHARS = 500  # of a checker reply kept in the case's log line


async def write_case_qa(case: CaseRecord, writer: CachedModel, count_tokens: Callable[[str], int],
                        settings: Part1Settings, checker: CachedModel | None = None) -> Outcome:
    """One case's pairs. With a `checker`, the pairs that pass the rule filters are also checked for
    quality, inside this case's work, so a resumed run never checks a finished case again."""
    if not case.imaging_analysis:
        return Outcome("skipped", reason="no imaging analysis")
    if not case.discussion:
        return Outcome("skipped", reason="no discussion")
    n_tokens = information_tokens(count_tokens, case.imaging_analysis, case.discussion)
    level, wanted = settings.levels.pairs_for(n_tokens)
    info = {"level": level, "n_tokens": n_tokens, "requested": wanted}
    if wanted == 0:
        return Outcome("skipped", reason=f"level {level}: no QA pairs configured", info=info)
    reply = await writer.chat(part1_messages(case, wanted), temperature=settings.temperature, case_id=case.id)
    passed, drops, errors = [], Counter(), []  # passed: (block index, pair) through the rule filters
    blocks = split_blocks(reply.text)
    if not blocks:
        drops["unparseable"] += 1
        errors.append("empty reply")
    for index, block in enumerate(blocks):
        try:
            qa = parse_multiple_choice(block, settings.min_options, settings.max_options)
        except ValueError as exc:
            drops["unparseable"] += 1
            errors.append(str(exc))
            continue
        text = "\n".join([qa.question, *qa.options.values(), qa.rationale])
        if referential_phrase(text, settings.referential_phrases):
            drops["refers to its case or image"] += 1
        elif not has_medical_subject(text, case.title):
            drops["no medical subject"] += 1
        elif len(passed) >= wanted:
            drops["more pairs than requested"] += 1
        else:
            passed.append((index, qa))
    info["parse_errors"] = errors
    if checker is None:
        checks = [None] * len(passed)
    else:
        checks = await asyncio.gather(*(check_quality(case, qa, checker, settings) for _, qa in passed))
        counts = Counter(c["verdict"] for c in checks)
        info["quality"] = {"checker": checker.name, "checked": len(checks),
                           **{label: counts[label] for label in QUALITY_VERDICTS},
                           "verdicts": [{"block": index, **c} for (index, _), c in zip(passed, checks)]}
    items = []
    for (_, qa), check in zip(passed, checks):
        if check is not None and check["verdict"] == "drop":
            drops[QUALITY_DROP_REASONS[check["problem"]]] += 1
            continue
        item = {"id": f"{case.id}/{len(items)}", "case_id": case.id, **qa.as_dict(), "level": level}
        if check is not None:
            item["quality"] = {"verdict": check["verdict"], "reason": check["reason"]}
        items.append(item)
    return Outcome("ok", items=items, drops=drops, info=info)


async def check_quality(case: CaseRecord, qa: MultipleChoice, checker: CachedModel, settings: Part1Settings) -> dict:
    """The checker's verdict on one pair: {"verdict": keep | drop | unreadable, "problem", "reason",
    "question", "reply"}. A backend failure propagates: the case is retried like a failed writer call."""
    reply = await checker.chat(quality_messages(case, qa.as_dict()), temperature=settings.quality_temperature,
                               case_id=case.id, max_tokens=settings.quality_max_tokens)
    verdict = parse_quality_verdict(reply.text, tuple(QUALITY_PROBLEMS))
    # An unreadable verdict keeps the pair (and is counted): it says nothing about the pair, only
    # that the checker broke the reply layout, and at temperature 0 asking again gives the same
    # reply. Dropping would let a checker that ignores the layout empty Part 1 while looking strict;
    # the count (and a warning in the job) shows when the check did not really run.
    label = "unreadable" if verdict.keep is None else "keep" if verdict.keep else "drop"
    return {"verdict": label, "problem": verdict.problem if label == "drop" else None, "reason": verdict.reason,
            "question": qa.question, "reply": reply.text[:MAX_REPLY_CHARS]}


def quality_summary(out_dir: str) -> dict:
    """The quality check's verdict counts over every finished case of the part's log (all runs)."""
    checks = [row["info"]["quality"] for row in latest_lines(out_dir).values()
              if row["status"] == "ok" and ((row.get("info") or {}).get("quality") or {}).get("checked")]
    return {"cases_checked": len(checks), "checkers": sorted({c["checker"] for c in checks}),
            **{key: sum(c[key] for c in checks) for key in ("checked", *QUALITY_VERDICTS)}}


def qa_sample(item: dict) -> Sample:
    """A text-only training conversation: the question with its options; the rationale, then the answer."""
    options = "\n".join(f"{letter}) {text}" for letter, text in item["options"].items())
    user = f"{item['question']}\n{options}\nChoose the correct option and explain why."
    assistant = f"{item['rationale']}\n{FINAL_MARKER} {item['answer']}) {item['answer_text']}"
    return single_turn(f"part1/{item['id']}", SOURCE, user, assistant,
                       meta={"case_id": item["case_id"], "level": item["level"]})


def qa_samples(items: Iterable[dict]) -> list[Sample]:
    return [qa_sample(item) for item in items]
