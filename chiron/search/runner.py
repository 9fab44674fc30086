"""Runs a search over many cases at once, writing each case's line as soon as it finishes.

Resuming is reading: cases already in records.jsonl, or failed for a reason that would recur
(bad record, bad image, search failure, a rejected request), are skipped; failures from exhausted
API retries, and cases stopped by a setup failure (a missing or refused key, an unknown model), are
tried again, and their finished calls replay from the cache.

A setup failure stops the run from starting new cases: every later call to that endpoint would be
refused too, and the other roles' calls of a case that cannot finish would be paid for nothing.

A budget (`budget_usd`) stops it from starting new cases once the folder's spending reaches it: what
earlier runs of the folder paid (their lines' usage) plus this run's ledger. Cases in flight finish,
so the budget is overshot by at most their cost; a rerun with a higher budget searches the rest.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from tqdm.auto import tqdm

from chiron.llm.ledger import Ledger, sum_usage
from chiron.llm.types import BackendError
from chiron.search.case import BadRecord, Case
from chiron.search.mics import SearchResult
from chiron.search.records import bad_record_failure, failure_record, reference_record, success_record
from chiron.utils.jsonl import JsonlAppender, atomic_write_json, atomic_write_jsonl, read_jsonl, read_latest
from chiron.utils.workers import run_workers

log = logging.getLogger(__name__)

SearchFn = Callable[[Case], Awaitable[tuple[SearchResult, list[dict]]]]

RECORDS, FAILED, REFERENCE, SUMMARY = "records.jsonl", "failed.jsonl", "reference.jsonl", "summary.json"

# failed.jsonl `kind` for each BackendError kind (chiron/llm/types.py)
FAILURE_KIND = {"transient": "error", "setup": "setup", "rejected": "rejected", "bad_image": "bad_image"}


def failure_is_final(row: dict) -> bool:
    """A failure the next run does not search again: it would recur as it stands."""
    return not row.get("retryable") and row.get("kind") != "setup"


@dataclass
class CaseRunner:
    search_fn: SearchFn
    method: str
    out_dir: str
    ledger: Ledger
    max_cases_in_flight: int = 16
    progress: bool = True
    budget_usd: float | None = None  # USD for the whole folder, earlier runs included; None = no limit

    async def run(self, inputs: Iterable[Case | BadRecord]) -> dict:
        os.makedirs(self.out_dir, exist_ok=True)
        finished = finished_ids(self.out_dir)
        records = JsonlAppender(os.path.join(self.out_dir, RECORDS), unique_key="rid")
        failed = JsonlAppender(os.path.join(self.out_dir, FAILED), unique_key="rid", final=failure_is_final)
        self.stopped_by: str | None = None  # the first setup failure's message
        self._spent_before = spent_usd(self.out_dir)  # read before this run writes any line
        self._budget_hit = False
        pending, seen = [], set()
        for item in inputs:
            if isinstance(item, BadRecord) or item.rid in seen:
                # A duplicate gets its own id so its failure never shadows the first case's.
                row = bad_record_failure(item) if isinstance(item, BadRecord) else failure_record(
                    f"{item.rid}@duplicate", "bad_record", "duplicate rid: an earlier line has the same id",
                    retryable=False)
                if row["rid"] not in finished:
                    failed.write(row)
                    finished.add(row["rid"])
                continue
            seen.add(item.rid)
            if item.rid not in finished:
                pending.append(item)
        start = time.monotonic()
        bar = tqdm(total=len(pending), desc=f"{self.method} search", unit="case", disable=not self.progress)
        self._counts = Counter()
        queue = iter(pending)

        async def worker() -> None:
            for case in queue:  # next() never interleaves: the iterator is advanced between awaits
                if self.stopped_by is not None or self._over_budget():
                    return
                await self._one(case, records, failed)
                self._counts["searched"] += 1
                bar.update(1)
                bar.set_postfix(self._postfix(), refresh=False)

        try:
            await run_workers(min(self.max_cases_in_flight, len(pending)), worker)
        finally:
            bar.close()
            records.close()
            failed.close()
        return write_summary(self.out_dir, self.ledger, wall_s=time.monotonic() - start,
                             searched_now=self._counts["searched"], skipped=len(finished & seen),
                             stopped_by=self.stopped_by, not_started=len(pending) - self._counts["searched"],
                             budget=self._budget_state())

    def _spent(self) -> float:
        return self._spent_before + self.ledger.total().cost_usd

    def _over_budget(self) -> bool:
        if self.budget_usd is None or self._spent() < self.budget_usd:
            return False
        if not self._budget_hit:
            self._budget_hit = True
            log.warning("search budget reached: spent $%.4f of search.budget_usd=$%.4f; no new cases start",
                        self._spent(), self.budget_usd)
        return True

    def _budget_state(self) -> dict:
        """The summary's budget fields; `stopped_by_budget` only when a case was left unstarted for it."""
        spent = self._spent()
        stopped = None
        if self._budget_hit:
            stopped = f"spent ${spent:.4f} of search.budget_usd=${self.budget_usd:.4f} in this run folder"
        return {"budget_usd": self.budget_usd, "spent_usd": round(spent, 9), "stopped_by_budget": stopped}

    async def _one(self, case: Case, records: JsonlAppender, failed: JsonlAppender) -> None:
        start = time.monotonic()
        try:
            result, attempts = await self.search_fn(case)
        except BackendError as exc:
            failed.write(failure_record(case.rid, FAILURE_KIND[exc.kind], str(exc), retryable=exc.retryable,
                                        usage=self.ledger.pop_case(case.rid)))
            self._counts["failed"] += 1
            if exc.kind == "setup" and self.stopped_by is None:
                self.stopped_by = str(exc)
                log.error("search stopping (no new cases): %s", exc)
            return
        except Exception as exc:  # a bug must not take the other cases down, but must be loud
            log.error("case %s crashed:\n%s", case.rid, traceback.format_exc())
            failed.write(failure_record(case.rid, "error", f"{type(exc).__name__}: {exc}", retryable=True,
                                        usage=self.ledger.pop_case(case.rid)))
            self._counts["failed"] += 1
            return
        usage = self.ledger.pop_case(case.rid)
        if result.succeeded:
            records.write(success_record(case, result, attempts, self.method, usage, time.monotonic() - start))
            self._counts["ok"] += 1
        else:
            reason = {"all_zero": "every candidate scored 0", "no_step": "no mentor wrote a usable step"}
            failed.write(failure_record(
                case.rid, "search_failed", f"{reason.get(result.status, result.status)} "
                f"(after {len(attempts)} attempt(s))", retryable=False, usage=usage, attempts=attempts))
            self._counts["failed"] += 1

    def _postfix(self) -> dict:
        total = self.ledger.total()
        return {"ok": self._counts["ok"], "fail": self._counts["failed"], "calls": total.calls,
                "hits": total.cache_hits, "cost": f"${total.cost_usd:.4f}"}


def finished_ids(out_dir: str) -> set[str]:
    done = {r["rid"] for r in read_jsonl(os.path.join(out_dir, RECORDS)) if "rid" in r}
    done |= {rid for rid, row in latest_by_rid(read_jsonl(os.path.join(out_dir, FAILED))).items()
             if failure_is_final(row)}
    return done


def latest_by_rid(rows: Iterable[dict]) -> dict[str, dict]:
    """The last line per case id: a retried case's newest failure supersedes its older ones."""
    return {row.get("rid"): row for row in rows}


def folder_lines(out_dir: str) -> tuple[list[dict], dict[str, dict]]:
    """The folder's records (the latest per case) and its failures of cases without a record."""
    records = read_latest(os.path.join(out_dir, RECORDS), "rid")
    ok_ids = {r["rid"] for r in records}
    failures = {rid: row for rid, row in latest_by_rid(read_jsonl(os.path.join(out_dir, FAILED))).items()
                if rid not in ok_ids}
    return records, failures


def folder_usage(records: list[dict], failures: dict[str, dict]) -> dict[str, dict]:
    """Usage of every run of the folder by role/model (the summary's usage_all_runs)."""
    return sum_usage([r.get("usage", {}) for r in records] + [f.get("usage", {}) for f in failures.values()])


def spent_usd(out_dir: str) -> float:
    """What the runs of this folder have paid so far, as usage_all_runs counts it."""
    return sum(u["cost_usd"] for u in folder_usage(*folder_lines(out_dir)).values())


def write_summary(out_dir: str, ledger: Ledger | None, wall_s: float, searched_now: int, skipped: int,
                  stopped_by: str | None = None, not_started: int = 0, budget: dict | None = None) -> dict:
    """Summary and reference export, rebuilt from the line files so they always agree with them."""
    records, failures = folder_lines(out_dir)
    first = next(iter(failures.values()), None)
    atomic_write_jsonl(os.path.join(out_dir, REFERENCE), (reference_record(r) for r in records))
    summary = {
        "cases_ok": len(records),
        "cases_failed": len(failures),
        "by_status": dict(Counter(r["status"] for r in records)),
        "failures_by_kind": dict(Counter(f.get("kind", "?") for f in failures.values())),
        "retryable_failures": sum(1 for f in failures.values() if not failure_is_final(f)),
        "first_failure": None if first is None else {k: first.get(k) for k in ("rid", "kind", "error")},
        "stopped_by": stopped_by,
        # search.budget_usd: the limit, the folder's spending it was checked against, and why new cases
        # stopped (kept apart from stopped_by, which is a setup failure's message)
        **(budget or {"budget_usd": None, "spent_usd": None, "stopped_by_budget": None}),
        "mean_path_score_final": _mean([r["path_scores"][-1] for r in records if r.get("path_scores")]),
        "usage_all_runs": folder_usage(records, failures),
        "this_run": {
            "searched": searched_now, "skipped_as_finished": skipped, "not_started": not_started,
            "wall_s": round(wall_s, 3),
            "usage": ledger.by_role_model() if ledger else {},
            "total": ledger.total().as_dict() if ledger else {},
        },
    }
    atomic_write_json(os.path.join(out_dir, SUMMARY), summary)
    return summary


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
