"""The vanilla baseline (Table 3 ▲, Figure 4): one mentor writes the whole path in one call.

With `score_paths`, each prefix of that path is still scored by the interns so its path-score
trend can be compared with MICS paths.
"""

from __future__ import annotations

import asyncio

from chiron.search.case import Case
from chiron.search.mics import SearchResult, SearchSettings, case_rng, with_retries
from chiron.search.prompts import mentor_messages
from chiron.search.roles import Roles, score_prefix
from chiron.search.steps import parse_continuation, render_path


async def vanilla_search(case: Case, roles: Roles, settings: SearchSettings, mentor_name: str | None = None,
                         score_paths: bool = False) -> tuple[SearchResult, list[dict]]:
    return await with_retries(
        settings, lambda attempt: _write_once(case, roles, settings, attempt, mentor_name, score_paths))


async def _write_once(case: Case, roles: Roles, settings: SearchSettings, attempt: int,
                      mentor_name: str | None, score_paths: bool) -> SearchResult:
    by_name = {m.name: m for m in roles.mentors}
    if mentor_name is not None and mentor_name not in by_name:
        raise ValueError(f"search.vanilla_mentor={mentor_name!r} is not one of the mentors {sorted(by_name)}")
    name = mentor_name or case_rng(settings.seed, case.rid, attempt).choice(sorted(by_name))
    reply = await by_name[name].chat(mentor_messages(case, render_path([]), 1), temperature=roles.mentor_temperature,
                                     sample_index=attempt, case_id=case.rid)
    parsed = parse_continuation(reply.text)
    trace = {"depth": 0, "candidates": [{"mentor": name, "continuation": reply.text, "steps": list(parsed.steps)}]}
    result = SearchResult(status="vanilla", steps=list(parsed.steps), final_answer=parsed.final_answer,
                          selected=[name] * len(parsed.steps), depths=[trace])
    if not parsed.steps:
        result.status = "no_step"
        return result
    if score_paths:
        scored = await asyncio.gather(*(
            score_prefix(case, render_path(parsed.steps[:k]), roles, attempt) for k in range(1, len(parsed.steps) + 1)
        ))
        result.path_scores = [score for score, _ in scored]
        trace["prefix_scores"] = [{"steps": k + 1, "score": s, "interns": runs} for k, (s, runs) in enumerate(scored)]
    result.history = {name: list(result.path_scores)}
    return result
