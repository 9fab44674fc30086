"""MMRP Part 1 (paper App. A.1): multiple-choice QA quadruplets written by an LLM from the text
of a case (question, 3-5 options, answer, rationale), as many as the case's information level
allows; unusable pairs are dropped with a counted reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from chiron.data.corpus import CaseRecord
from chiron.data.sample import Sample, single_turn
from chiron.llm.client import CachedModel
from chiron.mmrp.filters import DEFAULT_REFERENTIAL, has_medical_subject, referential_phrase
from chiron.mmrp.levels import Levels, information_tokens
from chiron.mmrp.parsing import parse_multiple_choice, split_blocks
from chiron.mmrp.prompts import part1_messages
from chiron.mmrp.runner import Outcome
from chiron.search.steps import FINAL_MARKER

SOURCE = "mmrp_part1"


@dataclass(frozen=True)
class Part1Settings:
    levels: Levels
    temperature: float = 0.7
    min_options: int = 3
    max_options: int = 5
    referential_phrases: tuple[str, ...] = DEFAULT_REFERENTIAL


async def write_case_qa(case: CaseRecord, writer: CachedModel, count_tokens: Callable[[str], int],
                        settings: Part1Settings) -> Outcome:
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
    items, drops, errors = [], Counter(), []
    blocks = split_blocks(reply.text)
    if not blocks:
        drops["unparseable"] += 1
        errors.append("empty reply")
    for block in blocks:
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
        elif len(items) >= wanted:
            drops["more pairs than requested"] += 1
        else:
            items.append({"id": f"{case.id}/{len(items)}", "case_id": case.id, **qa.as_dict(), "level": level})
    info["parse_errors"] = errors
    return Outcome("ok", items=items, drops=drops, info=info)


def qa_sample(item: dict) -> Sample:
    """A text-only training conversation: the question with its options; the rationale, then the answer."""
    options = "\n".join(f"{letter}) {text}" for letter, text in item["options"].items())
    user = f"{item['question']}\n{options}\nChoose the correct option and explain why."
    assistant = f"{item['rationale']}\n{FINAL_MARKER} {item['answer']}) {item['answer_text']}"
    return single_turn(f"part1/{item['id']}", SOURCE, user, assistant,
                       meta={"case_id": item["case_id"], "level": item["level"]})


def qa_samples(items: Iterable[dict]) -> list[Sample]:
    return [qa_sample(item) for item in items]
