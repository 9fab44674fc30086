"""Output lines of a search: our full record, the reference export, and failures."""

from __future__ import annotations

from chiron.search.case import BadRecord, Case
from chiron.search.mics import SearchResult
from chiron.search.steps import render_path


def success_record(case: Case, result: SearchResult, attempts: list[dict], method: str,
                   usage: dict, wall_s: float) -> dict:
    final_answer, from_gt = result.final_answer, False
    if final_answer is None:
        # The mentor saw the answer but did not write the closing line; the path still needs one.
        final_answer, from_gt = case.answer, True
    return {
        "rid": case.rid,
        "method": method,
        "status": result.status,
        "scenario": case.scenario,
        "question": case.question,
        "gt_answer": case.answer,
        "images": list(case.image_refs),
        "reasoning": render_path(result.steps, final_answer),
        "steps": result.steps,
        "final_answer": final_answer,
        "final_answer_from_gt": from_gt,
        "path_scores": result.path_scores,
        "selected_mentors": result.selected,
        "mentor_scores": result.history,
        "retries": len(attempts) - 1,
        "attempts": attempts,
        "usage": usage,
        "wall_s": round(wall_s, 3),
    }


def reference_record(record: dict) -> dict:
    """The reference code's output format (spec §3) from one of our records.

    `scores` holds, per mentor, one entry per depth of the last attempt's search, null where that
    mentor wrote no step, so `scores[m][d]` is always depth d+1. (Our `mentor_scores` lists only
    the depths where each mentor wrote a step; the trace in `attempts` says which ones those were.)
    A vanilla record (one path, scored per step) and a record without a trace keep their lists.
    ValueError when the trace and the scores disagree.
    """
    scores = record["mentor_scores"]
    attempts = record.get("attempts") or []
    if record["method"] == "mics" and attempts and "depths" in attempts[-1]:
        depths = attempts[-1]["depths"] or []
        wrote = [{c["mentor"] for c in depth.get("candidates", []) if c.get("steps")} for depth in depths]
        by_depth = {}
        for mentor in [*scores, *sorted(set().union(*wrote) - set(scores))]:
            own, where = scores.get(mentor, []), [mentor in at_depth for at_depth in wrote]
            if sum(where) != len(own):
                raise ValueError(f"record {record['rid']!r}: mentor {mentor!r} has {len(own)} scores but wrote a "
                                 f"step at {sum(where)} of the last attempt's {len(depths)} depths")
            values = iter(own)
            by_depth[mentor] = [next(values) if w else None for w in where]
        scores = by_depth
    return {
        "rid": record["rid"],
        "images": record["images"],
        "question": record["question"],
        "gt_answer": record["gt_answer"],
        "reasoning": record["reasoning"],
        "scores": scores,
        "final_depth": str(len(record["selected_mentors"]) if record["method"] == "mics" else len(record["steps"])),
        "generated_by": record["selected_mentors"],
        "search_id": "1" if record["status"] == "full_score" else "0",
    }


def failure_record(rid: str, kind: str, reason: str, retryable: bool, usage: dict | None = None,
                   attempts: list[dict] | None = None, line: int | None = None) -> dict:
    """kind: bad_record | bad_image | search_failed | rejected (never searched again), error (API
    retries exhausted: `retryable`, searched again on resume), setup (a missing or refused key, an
    unknown model: not retryable as it stands, searched again by the next run, after the fix)."""
    row = {"rid": rid, "kind": kind, "error": reason, "retryable": retryable}
    if line is not None:
        row["line"] = line
    if usage:
        row["usage"] = usage
    if attempts is not None:
        row["attempts"] = attempts
    return row


def bad_record_failure(bad: BadRecord) -> dict:
    """A refused input line: kind "bad_image" (an image unusable or outside the image root) or
    "bad_record"; never retryable (the same line would be refused again)."""
    rid = bad.rid if bad.rid is not None else f"line-{bad.line}"
    return failure_record(rid, getattr(bad, "kind", "bad_record") or "bad_record", bad.reason, retryable=False,
                          line=bad.line)
