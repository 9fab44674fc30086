"""Evaluates one benchmark's items, many at once, one line per item written as soon as it is done.

Resuming is reading: items already in predictions.jsonl are skipped, except those whose generation
or judge call failed after every retry (tried again; finished calls replay from the call cache).
A crash loses at most the items in flight, and their calls are cached too.
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
from chiron.llm.types import BackendError
from chiron.search.prompts import judge_messages, judge_says_yes
from chiron.search.roles import Scorers
from chiron.utils.jsonl import JsonlAppender, read_jsonl

PREDICTIONS = "predictions.jsonl"
# An item in one of these states is tried again on the next run.
RETRY = ("generation_failed", "judge_failed")
# Every status an item can end in; all but "correct" count as wrong, none is ever dropped.
STATUSES = ("correct", "wrong", "unparseable", "unjudged", "judge_failed", "generation_failed")


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

    async def run(self, benchmark: str, items: list[EvalItem], out_dir: str) -> list[dict]:
        """All items' rows in item order (this run's and earlier runs')."""
        path = os.path.join(out_dir, PREDICTIONS)
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
            raise ValueError(f"{benchmark}: duplicate item ids {duplicated[:5]}: results could not be resumed")
        done = finished_rows(path)
        pending = [item for item in items if item.id not in done]
        bar = tqdm(total=len(pending), desc=f"eval {benchmark}", unit="item", disable=not self.progress)
        counts: Counter = Counter()
        queue = iter(pending)
        out = JsonlAppender(path)

        async def worker() -> None:
            for item in queue:  # the iterator is only advanced between awaits: no item twice
                row = await self.evaluate(item)
                out.write(row)
                done[item.id] = row
                counts[row["status"]] += 1
                bar.update(1)
                bar.set_postfix(dict(counts), refresh=False)

        try:
            await asyncio.gather(*(worker() for _ in range(max(1, min(self.items_in_flight, len(pending))))))
        finally:
            bar.close()
            out.close()
        return [done[item.id] for item in items]

    async def evaluate(self, item: EvalItem) -> dict:
        row = {"id": item.id, "benchmark": item.benchmark, "kind": item.kind, "subject": item.subject,
               "question": item.question, "images": list(item.images), "options": [list(o) for o in item.options],
               "gold": gold_text(item), "reference_reasoning": item.reference_reasoning, "reply": None,
               "extracted": None, "choice": None, "status": None, "judge_reply": None, "own_path": None}
        try:
            reply = await self.model.chat(question_messages(item), temperature=self.temperature,
                                          max_tokens=self.max_tokens, case_id=f"{item.benchmark}/{item.id}")
        except BackendError as exc:
            row.update(status="generation_failed", error=str(exc))
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
            row.update(status="judge_failed", error=str(exc))
            return
        row["judge_reply"] = reply.text
        row["status"] = "correct" if judge_says_yes(reply.text) else "wrong"


def finished_rows(path: str) -> dict[str, dict]:
    """The newest row per item id, minus items whose calls failed (those are tried again)."""
    latest = {row["id"]: row for row in read_jsonl(path) if "id" in row}
    return {item_id: row for item_id, row in latest.items() if row.get("status") not in RETRY}
