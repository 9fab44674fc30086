"""MICS-Score of a model's own reasoning path (paper Table 2).

The model's reply is split into its steps; every step prefix (steps 1..k) goes to the interns, who
finish it at each temperature, and the judge checks their answers, exactly as a mentor's candidate
is scored during the search. A path's score is the mean of its prefix scores: a path whose early
steps already lead interns to the right answer scores high. A reply without a single step scores 0.
"""

from __future__ import annotations

import asyncio

from chiron.eval.items import EvalItem
from chiron.eval.prompts import gold_text, render_options
from chiron.search.case import Case
from chiron.search.roles import Scorers, score_prefix
from chiron.search.steps import parse_continuation, render_path


def item_case(item: EvalItem) -> Case:
    """The item as the search's scorers read a case: question, gold answer and images."""
    question = item.question
    if item.kind == "choice":
        question += "\n" + render_options(item)
    return Case(rid=f"{item.benchmark}/{item.id}", question=question, answer=gold_text(item),
                images=tuple(item.images), image_refs=tuple(item.images))


async def own_path_score(item: EvalItem, reply: str, scorers: Scorers, max_steps: int) -> dict:
    steps = list(parse_continuation(reply).steps)[:max_steps]
    if not steps:
        return {"score": 0.0, "prefix_scores": [], "steps": 0}
    case = item_case(item)
    scored = await asyncio.gather(*(score_prefix(case, render_path(steps[:k]), scorers, attempt=0)
                                    for k in range(1, len(steps) + 1)))
    prefix_scores = [score for score, _ in scored]
    return {"score": sum(prefix_scores) / len(prefix_scores), "prefix_scores": prefix_scores, "steps": len(steps)}
