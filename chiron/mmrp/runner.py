"""The resumable loop behind the LLM-written parts: many cases at once, one log line per case.

Each finished case appends one whole line to `log.jsonl` ({"key", "status": ok | skipped | error,
"reason", "items", "drops", "info", "usage"}). Rerunning skips keys whose last line is ok or
skipped; errors (exhausted API retries, crashes) are tried again, and their finished calls replay
from the call cache. The part's output files are rebuilt from the log, so they always agree.
"""

from __future__ import annotations

import asyncio
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


async def run_cases(work: Iterable[Work], out_dir: str, ledger: Ledger, desc: str,
                    max_in_flight: int = 16, progress: bool = True) -> dict:
    """Run every not-yet-finished unit of work; returns this run's counts."""
    os.makedirs(out_dir, exist_ok=True)
    done = {key for key, row in latest_lines(out_dir).items() if row.get("status") in ("ok", "skipped")}
    pending = [(key, fn) for key, fn in work if key not in done]
    counts: Counter = Counter()
    bar = tqdm(total=len(pending), desc=desc, unit="case", disable=not progress)
    queue = iter(pending)

    async def worker(appender: JsonlAppender) -> None:
        for key, fn in queue:  # the iterator only advances between awaits, so no item runs twice
            appender.write(await _one(key, fn, ledger))
            counts["ran"] += 1
            bar.update(1)
            total = ledger.total()
            bar.set_postfix({"calls": total.calls, "hits": total.cache_hits, "cost": f"${total.cost_usd:.4f}"},
                            refresh=False)

    with JsonlAppender(os.path.join(out_dir, LOG)) as appender:
        try:
            await asyncio.gather(*(worker(appender) for _ in range(max(1, min(max_in_flight, len(pending))))))
        finally:
            bar.close()
    return {"ran_now": counts["ran"], "skipped_as_finished": len(done)}


async def _one(key: str, fn: Callable[[], Awaitable[Outcome]], ledger: Ledger) -> dict:
    try:
        outcome = await fn()
    except Exception as exc:  # one case's failure (API or bug) must not stop the others
        if not isinstance(exc, BackendError):
            log.error("case %s crashed:\n%s", key, traceback.format_exc())
        return {"key": key, "status": "error", "reason": f"{type(exc).__name__}: {exc}",
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
