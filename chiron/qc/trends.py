"""The shape of a path's per-depth scores, and the quality-control keep rule built on it.

A path's scores are the MICS-Scores of the steps selected at each depth (paper §3.2). Figure 4(a)
sorts paths into four trends; App. A.3/B flag as low quality the paths with "no upward trend",
"consistently zero" scores, or scores "rising then falling".
"""

from __future__ import annotations

import math
from typing import Sequence

INCREASING, NON_INCREASING, CONSTANT, FLUCTUATING = "increasing", "non_increasing", "constant", "fluctuating"
TRENDS = (INCREASING, NON_INCREASING, CONSTANT, FLUCTUATING)

# QC reasons: the two kept shapes, then the paper's flags.
KEPT_INCREASING = "increasing"
KEPT_CONSTANT_FULL = "constant at full score"
FLAG_ZERO = "consistently zero"
FLAG_NO_UPWARD = "no upward trend"
FLAG_RISE_FALL = "rising then falling"
FLAG_FLUCTUATING = "fluctuating"


def _changes(scores: Sequence[float], tol: float) -> list[int]:
    """Sign of each step-to-step change: +1 rise, -1 fall, 0 flat (|change| <= tol)."""
    values = [float(s) for s in scores]
    if not values:
        raise ValueError("a path needs at least one score; got an empty list")
    if any(not math.isfinite(v) for v in values):
        # NaN compares false both ways and would pass for "flat"; better to stop here.
        raise ValueError(f"path scores must be finite numbers, got {values}")
    signs = []
    for a, b in zip(values, values[1:]):
        d = b - a
        signs.append(0 if abs(d) <= tol else (1 if d > 0 else -1))
    return signs


def classify_trend(scores: Sequence[float], tol: float = 1e-9) -> str:
    """Trend of a path's scores s_1..s_n: "increasing", "non_increasing", "constant" or "fluctuating".

    Let d_i = s_{i+1} - s_i, where |d_i| <= tol counts as 0 (scores are averages of intern
    verdicts, so float noise must not make a flat path look like it moves).

    - constant: every d_i is 0. A single score is constant (no change at all).
    - increasing: every d_i >= 0 and at least one d_i > 0 ("steadily increasing or at least stable").
    - non_increasing: every d_i <= 0 and at least one d_i < 0 (overall downward).
    - fluctuating: at least one rise and at least one fall (rising then falling, falling then
      rising, zig-zag).

    The four cases are disjoint and cover every non-empty path. An empty list raises ValueError,
    as do non-finite scores.
    """
    return _trend_of(_changes(scores, tol))


def _trend_of(signs: list[int]) -> str:
    rises, falls = 1 in signs, -1 in signs
    if rises and falls:
        return FLUCTUATING
    if rises:
        return INCREASING
    if falls:
        return NON_INCREASING
    return CONSTANT


def describe_path(scores: Sequence[float], tol: float = 1e-9) -> dict:
    """trend, all_zero (constant at 0), rising_then_falling (the last non-zero change is a fall
    after an earlier rise), final score and peak score."""
    signs = _changes(scores, tol)
    trend = _trend_of(signs)
    moves = [s for s in signs if s != 0]
    values = [float(s) for s in scores]
    return {
        "trend": trend,
        "all_zero": trend == CONSTANT and all(abs(v) <= tol for v in values),
        "rising_then_falling": bool(moves) and moves[-1] == -1 and 1 in moves[:-1],
        "final": values[-1],
        "peak": max(values),
    }


def passes_qc(scores: Sequence[float], full_score: float = 1.0, keep_constant_full: bool = True,
              tol: float = 1e-9) -> tuple[bool, str]:
    """(keep, reason) for one path under the paper's quality control (App. A.3, App. B).

    Kept: "increasing" paths, and (with keep_constant_full) paths constant at full_score.
    Flagged, with the paper's words as the reason:
      "consistently zero"   constant at 0;
      "no upward trend"     non_increasing, or constant below full_score (or at full_score
                            when keep_constant_full is false);
      "rising then falling" fluctuating and the last move is a fall after a rise;
      "fluctuating"         any other fluctuating path (e.g. falling then rising).

    Why a constant full-score path is kept: MICS stops at the first depth where a step scores
    full marks, so a case whose first step already convinces every intern ends as [1.0] — one
    score, hence "constant". It has no upward trend only because it could not rise any further;
    it is the best possible path, not a stagnant one. keep_constant_full=False drops it anyway.
    """
    info = describe_path(scores, tol)
    trend = info["trend"]
    if trend == INCREASING:
        return True, KEPT_INCREASING
    if trend == CONSTANT:
        if info["all_zero"]:
            return False, FLAG_ZERO
        if keep_constant_full and abs(info["final"] - full_score) <= tol:
            return True, KEPT_CONSTANT_FULL
        return False, FLAG_NO_UPWARD
    if trend == NON_INCREASING:
        return False, FLAG_NO_UPWARD
    return False, FLAG_RISE_FALL if info["rising_then_falling"] else FLAG_FLUCTUATING


def path_scores_of(record: dict) -> list[float]:
    """Per-depth scores of a record in either output format of `task=search`.

    - Our records (search/records.jsonl): the `path_scores` field (empty for unscored vanilla).
    - Reference records (search/reference.jsonl): per depth, the score of the mentor named in
      `generated_by` at that depth, from `scores` (mentor -> per-depth scores); where that mentor
      has no score at that depth, the best score any mentor got there. The path stops at the
      first depth nobody scored, so an unscored vanilla record gives [].

    Raises ValueError when the record has neither format's fields.
    """
    if record.get("path_scores") is not None:
        return [float(s) for s in record["path_scores"]]
    scores, generated_by = record.get("scores"), record.get("generated_by")
    if not isinstance(scores, dict) or generated_by is None:
        raise ValueError(
            f"record {record.get('rid')!r} has no path scores: expected 'path_scores' (chiron records.jsonl) "
            f"or 'scores' + 'generated_by' (reference.jsonl); keys present: {sorted(record)}")
    if isinstance(generated_by, str):
        generated_by = [generated_by]
    out: list[float] = []
    for depth, mentor in enumerate(generated_by):
        own = scores.get(mentor) or []
        if depth < len(own) and own[depth] is not None:
            out.append(float(own[depth]))
            continue
        at_depth = [float(v[depth]) for v in scores.values()
                    if isinstance(v, list) and depth < len(v) and v[depth] is not None]
        if not at_depth:
            break
        out.append(max(at_depth))
    return out
