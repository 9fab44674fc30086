"""Evaluates one benchmark's items, many at once, one line per item written as soon as it is done.

Resuming is reading: items already in predictions.jsonl are skipped, except those whose generation
or judge call failed after every retry (tried again; finished calls replay from the call cache).
A crash loses at most the items in flight, and their calls are cached too.

Before any call an item's images go through `chiron.llm.images.check_image` (memoized per file);
an item with a missing, empty, non-image, too large or undecodable image, or an image path its
loader refused as outside its root (meta["refused_images"]), is written with status `bad_image`
and the reason, without calling the model: it counts wrong, stays in the denominator, is reported
on its own. A rerun checks such an item's images again (cheap) and evaluates it once they are fixed.

A setup failure (a missing or refused key, an unknown model) stops the run from starting new items:
every later call would be refused too. `stopped_by` holds its message; the job then exits non-zero.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass

from tqdm.auto import tqdm

from chiron.eval.extract import rule_verdict
from chiron.eval.items import EvalItem
from chiron.eval.own_paths import item_case, own_path_score
from chiron.eval.prompts import gold_text, question_messages
from chiron.llm.client import CachedModel
from chiron.llm.images import REFUSED_IMAGES, BadImage, check_image
from chiron.llm.types import BackendError
from chiron.search.prompts import judge_messages, judge_says_yes
from chiron.search.roles import Scorers
from chiron.utils.jsonl import JsonlAppender, read_jsonl
from chiron.utils.workers import run_workers

PREDICTIONS = "predictions.jsonl"
# An item in one of these states is tried again on the next run.
RETRY = ("generation_failed", "judge_failed")
# Every status an item can end in; all but "correct" count as wrong, none is ever dropped.
STATUSES = ("correct", "wrong", "unparseable", "unjudged", "judge_failed", "generation_failed", "bad_image")


@dataclass
class EvalRunner:
    model: CachedModel
    temperature: float = 0.0
    max_tokens: int = 1024
    judge: CachedModel | None = None  # None: open answers are left "unjudged" (counted wrong)
    judge_temperature: float = 0.0
    scorers: Scorers | None = None  # MICS-Score of the model's own paths; None = off
    own_path_benchmarks: tuple[str, ...] = ()
    max_path_steps: int = 8
    items_in_flight: int = 16
    progress: bool = True
    stopped_by: str | None = None  # the first setup failure's message, once one stopped the run

    async def run(self, benchmark: str, items: list[EvalItem], out_dir: str) -> list[dict]:
        """All items' rows in item order (this run's and earlier runs')."""
        path = os.path.join(out_dir, PREDICTIONS)
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
            raise ValueError(f"{benchmark}: duplicate item ids {duplicated[:5]}: results could not be resumed")
        done = finished_rows(path)
        fixed = await asyncio.to_thread(_images_fixed, items, done)
        pending = [item for item in items if item.id not in done or item.id in fixed]
        bar = tqdm(total=len(pending), desc=f"eval {benchmark}", unit="item", disable=not self.progress)
        counts: Counter = Counter()
        queue = iter(pending)
        out = JsonlAppender(path, unique_key="id", final=lambda row: row.get("status") not in RETRY)
        if fixed:  # their old bad_image lines must not block the new ones
            out.forget(fixed)

        async def worker() -> None:
            for item in queue:  # the iterator is only advanced between awaits: no item twice
                if self.stopped_by is not None:
                    return
                row = await self.evaluate(item)
                out.write(row)
                done[item.id] = row
                counts[row["status"]] += 1
                if row.get("failure_kind") == "setup" and self.stopped_by is None:
                    self.stopped_by = row["error"]
                bar.update(1)
                bar.set_postfix(dict(counts), refresh=False)

        try:
            await run_workers(min(self.items_in_flight, len(pending)), worker)
        finally:
            bar.close()
            out.close()
        return [done[item.id] for item in items if item.id in done]

    async def evaluate(self, item: EvalItem) -> dict:
        row = {"id": item.id, "benchmark": item.benchmark, "kind": item.kind, "subject": item.subject,
               "question": item.question, "images": list(item.images), "options": [list(o) for o in item.options],
               "gold": gold_text(item), "reference_reasoning": item.reference_reasoning, "reply": None,
               "extracted": None, "choice": None, "status": None, "judge_reply": None, "own_path": None}
        bad = await asyncio.to_thread(image_problem, item)  # a decode: off the event loop
        if bad is not None:
            row.update(status="bad_image", error=str(bad), bad_image={"path": bad.path, "category": bad.category})
            return row
        try:
            reply = await self.model.chat(question_messages(item), temperature=self.temperature,
                                          max_tokens=self.max_tokens, case_id=f"{item.benchmark}/{item.id}")
        except BackendError as exc:
            # a backend that refuses an image itself (changed since the check): set aside the same way
            status = "bad_image" if exc.kind == "bad_image" else "generation_failed"
            row.update(status=status, error=str(exc), failure_kind=exc.kind)
            return row
        row["reply"] = reply.text
        verdict = rule_verdict(item, reply.text)
        row.update(extracted=verdict.extracted, choice=verdict.choice, status=verdict.status)
        if verdict.status == "needs_judge":
            await self._judge(item, verdict.extracted, row)
        if self.scorers is not None and item.benchmark in self.own_path_benchmarks:
            try:
                row["own_path"] = await own_path_score(item, reply.text, self.scorers, self.max_path_steps)
            except BackendError as exc:
                row["own_path"] = {"error": str(exc)}
        return row

    async def _judge(self, item: EvalItem, answer: str, row: dict) -> None:
        if self.judge is None:
            row["status"] = "unjudged"
            return
        try:
            reply = await self.judge.chat(judge_messages(item_case(item), answer), temperature=self.judge_temperature,
                                          case_id=f"{item.benchmark}/{item.id}")
        except BackendError as exc:
            row.update(status="judge_failed", error=str(exc), failure_kind=exc.kind)
            return
        row["judge_reply"] = reply.text
        row["status"] = "correct" if judge_says_yes(reply.text) else "wrong"


def image_problem(item: EvalItem) -> BadImage | None:
    """Why the item's images cannot be shown to a model (the first bad one), None when all are fine."""
    refused = (item.meta or {}).get(REFUSED_IMAGES) or {}
    for path in item.images:
        if path in refused:
            return BadImage(str(refused[path]), "outside_root", path)
        try:
            check_image(path)
        except BadImage as exc:
            return exc
    return None


def _images_fixed(items: list[EvalItem], done: dict[str, dict]) -> set[str]:
    """Items our image check stored as bad_image whose images pass it now: evaluated again. (One the
    backend refused although the check passed keeps its verdict.)"""
    return {item.id for item in items if (done.get(item.id) or {}).get("bad_image") and image_problem(item) is None}


def finished_rows(path: str) -> dict[str, dict]:
    """The newest row per item id, minus items whose calls failed (those are tried again)."""
    latest = {row["id"]: row for row in read_jsonl(path) if "id" in row}
    return {item_id: row for item_id, row in latest.items() if row.get("status") not in RETRY}
