"""The resumable loop behind the LLM-written parts: many cases at once, one log line per case.

Each finished case appends one whole line to `log.jsonl` ({"key", "status": ok | skipped | error,
"reason", "kind", "items", "drops", "info", "usage"}). Rerunning skips keys whose last line is ok or
skipped; errors (exhausted API retries, crashes, setup failures such as a missing key) are tried
again, and their finished calls replay from the call cache. The part's output files are rebuilt from
the log, so they always agree. A setup failure stops the run from starting new cases.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

from tqdm.auto import tqdm

from chiron.llm.ledger import Ledger, sum_usage
from chiron.llm.types import BackendError
from chiron.utils.jsonl import JsonlAppender, read_jsonl
from chiron.utils.workers import run_workers

log = logging.getLogger(__name__)

LOG = "log.jsonl"


@dataclass
class Outcome:
    status: str  # "ok" | "skipped"
    items: list[dict] = field(default_factory=list)
    reason: str | None = None  # why a case was skipped
    drops: Counter = field(default_factory=Counter)  # items written but refused, by reason
    info: dict = field(default_factory=dict)


Work = tuple[str, Callable[[], Awaitable[Outcome]]]


def latest_lines(out_dir: str) -> dict[str, dict]:
    """The last log line per key: a retried case's newest line supersedes its older ones."""
    return {row["key"]: row for row in read_jsonl(os.path.join(out_dir, LOG)) if "key" in row}


def line_is_final(row: dict) -> bool:
    return row.get("status") in ("ok", "skipped")


async def run_cases(work: Iterable[Work], out_dir: str, ledger: Ledger, desc: str,
                    max_in_flight: int = 16, progress: bool = True) -> dict:
    """Run every not-yet-finished unit of work; returns this run's counts (and `stopped_by`, the
    first setup failure, when one stopped it)."""
    os.makedirs(out_dir, exist_ok=True)
    done = {key for key, row in latest_lines(out_dir).items() if line_is_final(row)}
    pending = [(key, fn) for key, fn in work if key not in done]
    counts: Counter = Counter()
    stopped: list[str] = []
    bar = tqdm(total=len(pending), desc=desc, unit="case", disable=not progress)
    queue = iter(pending)

    async def worker(appender: JsonlAppender) -> None:
        for key, fn in queue:  # the iterator only advances between awaits, so no item runs twice
            if stopped:
                return
            line = await _one(key, fn, ledger)
            appender.write(line)
            if line.get("kind") == "setup" and not stopped:
                stopped.append(line["reason"])
                log.error("%s stopping (no new cases): %s", desc, line["reason"])
            counts["ran"] += 1
            bar.update(1)
            total = ledger.total()
            bar.set_postfix({"calls": total.calls, "hits": total.cache_hits, "cost": f"${total.cost_usd:.4f}"},
                            refresh=False)

    with JsonlAppender(os.path.join(out_dir, LOG), unique_key="key", final=line_is_final) as appender:
        try:
            await run_workers(min(max_in_flight, len(pending)), lambda: worker(appender))
        finally:
            bar.close()
    return {"ran_now": counts["ran"], "skipped_as_finished": len(done), "not_started": len(pending) - counts["ran"],
            "stopped_by": stopped[0] if stopped else None}


async def _one(key: str, fn: Callable[[], Awaitable[Outcome]], ledger: Ledger) -> dict:
    try:
        outcome = await fn()
    except BackendError as exc:  # one case's failed call must not stop the others
        # A bad image or a rejected request would fail the same way again: the case is skipped for good.
        status = "error" if exc.kind in ("transient", "setup") else "skipped"
        return {"key": key, "status": status, "reason": str(exc), "kind": exc.kind, "usage": ledger.pop_case(key)}
    except Exception as exc:  # nor a bug in one case, but it must be loud
        log.error("case %s crashed:\n%s", key, traceback.format_exc())
        return {"key": key, "status": "error", "reason": f"{type(exc).__name__}: {exc}", "kind": "crash",
                "usage": ledger.pop_case(key)}
    return {"key": key, "status": outcome.status, "reason": outcome.reason, "items": outcome.items,
            "drops": dict(outcome.drops), "info": outcome.info, "usage": ledger.pop_case(key)}


def log_summary(out_dir: str) -> dict:
    """Counts over the whole log (all runs): cases by status, skip reasons, item drops, usage."""
    lines = latest_lines(out_dir).values()
    by_status = Counter(row["status"] for row in lines)
    return {
        "cases": dict(by_status),
        "skipped_by_reason": dict(Counter(row["reason"] for row in lines if row["status"] == "skipped")),
        "errors": {row["key"]: row["reason"] for row in lines if row["status"] == "error"},
        "items": sum(len(row.get("items") or []) for row in lines if row["status"] == "ok"),
        "items_dropped_by_reason": dict(sum((Counter(row.get("drops") or {}) for row in lines), Counter())),
        "usage_all_runs": sum_usage([row.get("usage") or {} for row in lines]),
    }


def finished_items(out_dir: str) -> list[dict]:
    """Every item of the ok cases, in log order."""
    return [item for row in latest_lines(out_dir).values() if row["status"] == "ok" for item in row["items"]]
