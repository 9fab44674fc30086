"""The three roles of a search and the intern+judge scoring they share (MICS-Score)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from chiron.llm.client import CachedModel
from chiron.search.case import Case
from chiron.search.economy import Tally, interleaved, rule_says_correct
from chiron.search.prompts import intern_messages, judge_messages, judge_says_yes
from chiron.search.rule_judge import RuleJudge
from chiron.search.selection import mics_score
from chiron.search.steps import extract_final_answer


@dataclass
class Scorers:
    """The interns (each at every temperature) and the judge: all a MICS-Score needs. The search's
    Roles add the mentors; evaluation scores a model's own reasoning with these alone."""

    interns: list[CachedModel]
    intern_temperatures: list[float]
    judge: CachedModel | RuleJudge
    judge_temperature: float = 0.0
    intern_prompt: str = "final_answer"  # chiron.search.prompts.INTERN_PROMPTS
    rule_verdicts: bool = False  # search.economy: an exact match is correct without the judge

    def __post_init__(self) -> None:
        if not self.interns or not self.intern_temperatures:
            raise ValueError("interns.models and interns.temperatures must both be non-empty")


@dataclass
class Roles:
    mentors: list[CachedModel]
    mentor_temperature: float
    interns: list[CachedModel]
    intern_temperatures: list[float]
    judge: CachedModel | RuleJudge
    judge_temperature: float = 0.0
    intern_prompt: str = "final_answer"
    rule_verdicts: bool = False

    def __post_init__(self) -> None:
        if not self.mentors:
            raise ValueError("mentors.models is empty: MICS needs at least one mentor")
        if not self.interns or not self.intern_temperatures:
            raise ValueError("interns.models and interns.temperatures must both be non-empty")
        names = [m.name for m in self.mentors]
        if len(set(names)) != len(names):
            raise ValueError(f"mentor names must be unique, got {names}")


async def score_prefix(case: Case, prefix: str, roles: Roles | Scorers, attempt: int) -> tuple[float, list[dict]]:
    """Every intern at every temperature finishes `prefix`; the judge checks each answer.

    Returns the MICS-Score and one trace entry per intern run. A run without a parseable final
    answer is wrong and is never shown to the judge.
    """
    runs = await asyncio.gather(*(
        intern_run(case, prefix, intern, temperature, roles, attempt)
        for intern in roles.interns for temperature in roles.intern_temperatures
    ))
    return mics_score([r["correct"] for r in runs]), list(runs)


def prefix_tally(case: Case, prefix: str, roles: Roles | Scorers, attempt: int) -> Tally:
    """The runs that score `prefix`, to be made as the search needs them (chiron/search/economy.py)."""
    return Tally(interleaved(roles.interns, roles.intern_temperatures),
                 lambda intern, temperature: intern_run(case, prefix, intern, temperature, roles, attempt))


async def intern_run(case: Case, prefix: str, intern: CachedModel, temperature: float,
                     roles: Roles | Scorers, attempt: int) -> dict:
    reply = await intern.chat(intern_messages(case, prefix, roles.intern_prompt), temperature=temperature,
                              sample_index=attempt, case_id=case.rid)
    answer = extract_final_answer(reply.text)
    run = {"intern": intern.name, "temperature": temperature, "reply": reply.text, "answer": answer,
           "parsed": answer is not None, "judge_reply": None, "correct": False}
    if answer is None:
        return run
    if isinstance(roles.judge, RuleJudge):  # judge=rules: the rule's word is final
        run.update(correct=roles.judge.correct(answer, case.answer), verdict="rules")
        return run
    if roles.rule_verdicts and rule_says_correct(answer, case.answer):
        run.update(correct=True, verdict="rule")
        roles.judge.note_saved(case.rid, by_rule=1)
        return run
    # The verdict on a given answer does not depend on the attempt, so it is always draw 0.
    verdict = await roles.judge.chat(judge_messages(case, answer), temperature=roles.judge_temperature,
                                     sample_index=0, case_id=case.rid)
    run["judge_reply"] = verdict.text
    run["correct"] = judge_says_yes(verdict.text)
    return run
