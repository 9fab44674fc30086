"""Mentor-Intern Collaborative Search for one case (paper §3.2, App. A.3).

Per depth: every mentor proposes its next step (the mentor selected last time reuses the next
step of its own earlier continuation), interns score each candidate prefix, the best one is
kept. A full score ends the search; an all-zero depth restarts it with fresh samples.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from chiron.llm.client import CachedModel
from chiron.search.case import Case
from chiron.search.prompts import mentor_messages
from chiron.search.economy import Tally, exact_history, open_scores, settle, sole_winner
from chiron.search.roles import Roles, prefix_tally
from chiron.search.selection import pick_full_score, select_candidate
from chiron.search.steps import parse_continuation, render_path


@dataclass(frozen=True)
class SearchSettings:
    max_depth: int = 4  # paper: 4 (reference code default: 3)
    max_retries: int = 2  # re-searches after an all-zero depth before the case fails
    first_depth_steps: int = 1  # paper: one step per depth (reference code: two at depth 1)
    competitiveness: str = "product"  # paper eq. 5; "sum" = reference code's 1 + sum
    seed: int = 0
    # Same decisions for fewer intern runs (chiron/search/economy.py); False: every call of the
    # paper's schedule. `wave`: runs per candidate made before deciding whether more are needed.
    economy: bool = True
    wave: int = 2

    def __post_init__(self) -> None:
        if self.max_depth < 1 or self.max_retries < 0 or self.first_depth_steps < 1 or self.wave < 1:
            raise ValueError("search: max_depth >= 1, max_retries >= 0, first_depth_steps >= 1 and "
                             "economy_wave >= 1 are required")
        if self.competitiveness not in ("product", "sum"):
            raise ValueError("search.competitiveness must be 'product' or 'sum'")


@dataclass
class Plan:
    """A mentor's latest complete continuation; `base` = prefix length it continued from."""

    base: int
    steps: tuple[str, ...]
    final_answer: str | None

    def steps_after(self, prefix_len: int) -> tuple[str, ...]:
        return self.steps[prefix_len - self.base:]


@dataclass
class SearchResult:
    """`status` is full_score | max_depth | vanilla, or a failure: all_zero | no_step."""

    status: str
    steps: list[str] = field(default_factory=list)
    final_answer: str | None = None
    path_scores: list[float] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    history: dict[str, list[float | None]] = field(default_factory=dict)  # None: left open by the economy
    depths: list[dict] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status in ("full_score", "max_depth", "vanilla")


def case_rng(seed: int, rid: str, attempt: int) -> random.Random:
    # One generator per case and attempt: decisions do not depend on which cases run alongside,
    # so a resumed or re-sharded run makes the same choices.
    return random.Random(f"{seed}:{rid}:{attempt}")


async def with_retries(settings: SearchSettings,
                       once: Callable[[int], Awaitable[SearchResult]]) -> tuple[SearchResult, list[dict]]:
    """Run `once(attempt)` until it succeeds or the retries run out; each attempt draws fresh
    samples (its number is the calls' sample index). Returns the last result and every trace."""
    attempts = []
    for attempt in range(settings.max_retries + 1):
        result = await once(attempt)
        attempts.append({"attempt": attempt, "status": result.status, "depths": result.depths})
        if result.succeeded:
            break
    return result, attempts


async def mics_search(case: Case, roles: Roles, settings: SearchSettings) -> tuple[SearchResult, list[dict]]:
    """Search with re-tries; returns the last attempt's result and every attempt's trace."""
    return await with_retries(settings, lambda attempt: _search_once(case, roles, settings, attempt))


async def _search_once(case: Case, roles: Roles, settings: SearchSettings, attempt: int) -> SearchResult:
    rng = case_rng(settings.seed, case.rid, attempt)
    plans: dict[str, Plan] = {}
    out = SearchResult(status="max_depth")
    # A mentor's scores so far; a score the economy left open is its Tally (see economy.py).
    history: dict[str, list[Tally | float]] = {m.name: [] for m in roles.mentors}
    prefix: list[str] = []
    try:
        for depth in range(1, settings.max_depth + 1):
            take = settings.first_depth_steps if depth == 1 else 1
            last = out.selected[-1] if out.selected else None
            candidates = await asyncio.gather(*(
                _propose(case, roles, mentor, prefix, plans, take, reuse=mentor.name == last, attempt=attempt)
                for mentor in roles.mentors
            ))
            tallies = {c["mentor"]: prefix_tally(case, render_path(prefix + c["steps"]), roles, attempt)
                       for c in candidates if c["steps"]}
            await settle(tallies, settings.economy, settings.wave)
            for c in candidates:
                if c["mentor"] in tallies:
                    _record_score(c, tallies[c["mentor"]])
            for mentor, tally in tallies.items():
                history[mentor].append(tally.value if tally.exact else tally)
            trace = {"depth": depth, "prefix_steps": len(prefix), "candidates": candidates, "selected": None}
            out.depths.append(trace)
            if not tallies:
                # Nothing to extend with: a first depth without any step is a failed search;
                # later, the path so far is finished with the last selected mentor's continuation.
                if depth == 1:
                    out.status = "no_step"
                    return out
                break
            scores = {m: t.value for m, t in tallies.items() if t.exact}  # every open one is below the best
            full = [m for m, s in scores.items() if s == 1.0]
            if full:
                winner = await _pick_full_score(full, history, settings, rng)
                trace["selected"] = winner
                out.selected.append(winner)
                out.path_scores.append(1.0)
                return _finish(out, prefix, plans[winner], "full_score")
            if len(scores) == len(tallies) and all(s == 0.0 for s in scores.values()):
                out.status = "all_zero"
                return out
            chosen = select_candidate(scores, out.selected, rng)
            trace["selected"] = chosen
            out.selected.append(chosen)
            out.path_scores.append(scores[chosen])
            prefix = prefix + next(c["steps"] for c in candidates if c["mentor"] == chosen)
        return _finish(out, prefix, plans[out.selected[-1]], "max_depth")
    finally:
        out.history = {m: exact_history(h) for m, h in history.items()}
        _count_pruned(case, history)


async def _pick_full_score(full: list[str], history: dict[str, list[Tally | float]], settings: SearchSettings,
                           rng: random.Random) -> str:
    """The exact rule's pick among several full-score mentors; a pruned score in their history is
    only completed when the bounds do not already prove the pick (economy.py)."""
    if len(full) == 1:
        return full[0]  # what the exact rule returns too, without looking at any history
    proven = sole_winner(full, history, settings.competitiveness)
    if proven is not None:
        return proven
    await asyncio.gather(*(t.make() for t in open_scores(history, full)))
    return pick_full_score(full, {m: exact_history(history[m]) for m in full}, settings.competitiveness, rng)


def _record_score(candidate: dict, tally: Tally) -> None:
    candidate["score"] = tally.value
    candidate["interns"] = tally.runs
    if not tally.exact:
        candidate["score_bounds"] = [tally.low, tally.high]
        candidate["runs_pruned"] = tally.total - tally.done


def _count_pruned(case: Case, history: dict[str, list[Tally | float]]) -> None:
    """Put the runs the economy never made in each intern's ledger row."""
    for tally in open_scores(history, list(history)):
        for intern, _ in tally.pending():
            intern.note_saved(case.rid, by_pruning=1)


def _finish(out: SearchResult, prefix: list[str], plan: Plan, status: str) -> SearchResult:
    out.status = status
    out.steps = list(prefix) + list(plan.steps_after(len(prefix)))
    out.final_answer = plan.final_answer
    return out


async def _propose(case: Case, roles: Roles, mentor: CachedModel, prefix: list[str], plans: dict[str, Plan],
                   take: int, reuse: bool, attempt: int) -> dict:
    """A mentor's candidate steps at this depth (its score comes after, from the interns)."""
    entry = {"mentor": mentor.name, "reused": False, "continuation": None, "steps": [], "score": None,
             "interns": [], "note": None}
    plan = plans.get(mentor.name)
    if reuse and plan is not None and plan.steps_after(len(prefix)):
        entry["reused"] = True
    else:
        reply = await mentor.chat(mentor_messages(case, render_path(prefix), len(prefix) + 1),
                                  temperature=roles.mentor_temperature, sample_index=attempt, case_id=case.rid)
        parsed = parse_continuation(reply.text)
        entry["continuation"] = reply.text
        if not parsed.steps:
            # An earlier plan of this mentor (if any) stays: its steps are already in the prefix.
            entry["note"] = "reply has no '### Step N:' line"
            return entry
        plan = plans[mentor.name] = Plan(len(prefix), parsed.steps, parsed.final_answer)
    entry["steps"] = list(plan.steps_after(len(prefix))[:take])
    return entry
