"""Cost ledger: calls, cache hits, retries, tokens, dollars and wall time per role / model / case."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, fields


@dataclass
class Usage:
    calls: int = 0  # requests answered (cache hits included)
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0  # calls that failed after every retry
    tokens_in: int = 0
    tokens_out: int = 0
    # Of the paid calls' tokens_in, those the provider read from its prompt-prefix cache and billed
    # at the cached-input price (cache hits of our own call cache add none: they were not billed).
    tokens_in_cached: int = 0
    cost_usd: float = 0.0  # what the *paid* calls cost, as billed; cache hits cost nothing
    wall_s: float = 0.0
    # search.economy: calls never made because they could not change a decision
    saved_by_rule: int = 0  # judge calls: the answer matched the gold answer by rule
    saved_by_pruning: int = 0  # intern runs: the candidate's score could no longer change a decision

    def add(self, other: "Usage") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict:
        d = asdict(self)
        # Nano-dollars: a judge call on cached input costs ~1e-8 USD, which micro-dollars would round
        # away in per-case lines (and so in every sum over them).
        d["cost_usd"] = round(d["cost_usd"], 9)
        d["wall_s"] = round(d["wall_s"], 3)
        return d


class Ledger:
    """Totals per role/model for this process, plus per-case rows until the case is written out."""

    def __init__(self) -> None:
        self._totals: dict[str, Usage] = defaultdict(Usage)
        self._cases: dict[str, dict[str, Usage]] = defaultdict(lambda: defaultdict(Usage))

    def record(self, role: str, model: str, case_id: str, usage: Usage) -> None:
        key = f"{role}/{model}"
        self._totals[key].add(usage)
        self._cases[case_id][key].add(usage)

    def pop_case(self, case_id: str) -> dict[str, dict]:
        """Usage of one case by role/model, for its output line; forgotten afterwards so
        memory stays flat over thousands of cases."""
        rows = self._cases.pop(case_id, {})
        return {k: v.as_dict() for k, v in sorted(rows.items())}

    def by_role_model(self) -> dict[str, dict]:
        return {k: v.as_dict() for k, v in sorted(self._totals.items())}

    def total(self) -> Usage:
        t = Usage()
        for u in self._totals.values():
            t.add(u)
        return t


def usage_from_dict(d: dict) -> Usage:
    """A Usage from an output line's dict: counters it lacks (lines written before they existed)
    are 0, and ones it has that this version does not know are ignored."""
    known = {f.name for f in fields(Usage)}
    return Usage(**{k: v for k, v in d.items() if k in known})


def sum_usage(rows: list[dict[str, dict]]) -> dict[str, dict]:
    """Add up per-case usage dicts (as written in output lines) by role/model."""
    agg: dict[str, Usage] = defaultdict(Usage)
    for row in rows:
        for key, d in row.items():
            agg[key].add(usage_from_dict(d))
    return {k: v.as_dict() for k, v in sorted(agg.items())}
