"""MICS decision rules (paper §3.2), pure functions so tests can pin each one.

- MICS-Score = correct intern runs / all intern runs (unparseable answers count as wrong).
- The best candidate is kept; ties go to a mentor not selected before, then to a seeded draw.
- Several full-score candidates: the mentor with the highest competitiveness wins (eq. 5:
  product of its earlier MICS-Scores; the reference code uses 1 + their sum).
"""

from __future__ import annotations

import math
import random
from typing import Iterable, Mapping, Sequence


def mics_score(verdicts: Sequence[bool]) -> float:
    if not verdicts:
        raise ValueError("MICS-Score needs at least one intern run")
    return sum(1 for v in verdicts if v) / len(verdicts)


def select_candidate(scores: Mapping[str, float], selected_before: Iterable[str], rng: random.Random) -> str:
    """Mentor whose candidate becomes the next prefix."""
    if not scores:
        raise ValueError("no candidates to select from")
    best = max(scores.values())
    top = sorted(m for m, s in scores.items() if s == best)
    if len(top) > 1:
        fresh = [m for m in top if m not in set(selected_before)]
        top = fresh or top
    return top[0] if len(top) == 1 else rng.choice(top)


def competitiveness(history: Sequence[float], mode: str = "product") -> float:
    """A mentor's record over the iterations so far (its candidates' MICS-Scores)."""
    if mode == "product":
        return math.prod(history)
    if mode == "sum":
        return 1.0 + sum(history)
    raise ValueError(f"search.competitiveness must be 'product' or 'sum', got {mode!r}")


def pick_full_score(full_score_mentors: Sequence[str], history: Mapping[str, Sequence[float]],
                    mode: str, rng: random.Random) -> str:
    """Among mentors that reached 1.0 this iteration, the most competitive one (ties: seeded draw)."""
    if not full_score_mentors:
        raise ValueError("no full-score mentors")
    values = {m: competitiveness(history.get(m, ()), mode) for m in full_score_mentors}
    best = max(values.values())
    top = sorted(m for m, v in values.items() if v == best)
    return top[0] if len(top) == 1 else rng.choice(top)
