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

One generation per item, whatever the protocols (chiron/eval/protocols.py): each requested protocol
scores the same reply, and the row keeps every verdict under `scores` ({protocol: {status,
extracted, choice, judge_reply, ...}}); its top-level `status`, `extracted`, `choice` and
`judge_reply` are the primary protocol's (`protocol`), and `prompt` names the prompt it was asked
with. A rerun that asks for a protocol a row lacks (or whose judge call failed) scores the stored
reply without asking the model again; a row asked with another `eval.prompt` is asked again.
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
from chiron.eval.prompts import PROMPTS, eval_messages, gold_text
from chiron.eval.protocols import (CHIRON, REFERENCE, answer_gold, protocol_names, reference_answer,
                                   reference_judge_messages, reference_says_yes)
from chiron.llm.client import CachedModel
from chiron.llm.images import REFUSED_IMAGES, BadImage, check_image
from chiron.llm.types import BackendError
from chiron.search.prompts import judge_messages, judge_says_yes
from chiron.search.roles import Scorers
from chiron.search.rule_judge import RuleJudge
from chiron.utils.jsonl import JsonlAppender, read_jsonl
from chiron.utils.workers import run_workers

PREDICTIONS = "predictions.jsonl"
# An item in one of these states is tried again on the next run.
RETRY = ("generation_failed", "judge_failed")
# Every status an item can end in; all but "correct" count as wrong. Only "skipped" (the reference
# protocol's reply without a final-answer marker) leaves the denominator, and it is counted apart.
STATUSES = ("correct", "wrong", "unparseable", "unjudged", "judge_failed", "generation_failed", "bad_image",
            "skipped")
# Statuses of a row without a reply: the same under every protocol.
NO_REPLY = ("generation_failed", "bad_image")
# What one protocol's verdict holds (and what the row's top level copies from the primary's).
SCORE_FIELDS = ("status", "extracted", "choice", "judge_reply", "error", "failure_kind")


@dataclass
class EvalRunner:
    model: CachedModel
    temperature: float = 0.0
    max_tokens: int = 1024
    judge: CachedModel | RuleJudge | None = None  # None: open answers are left "unjudged" (counted wrong)
    judge_temperature: float = 0.0
    scorers: Scorers | None = None  # MICS-Score of the model's own paths; None = off
    own_path_benchmarks: tuple[str, ...] = ()
    max_path_steps: int = 8
    items_in_flight: int = 16
    progress: bool = True
    protocols: tuple[str, ...] = (CHIRON,)  # how replies are scored, the primary first
    reference_judge_temperature: float = 0.9  # the reference protocol's judge temperature
    prompt: str = "chiron"  # what the model is sent (chiron/eval/prompts.py)
    stopped_by: str | None = None  # the first setup failure's message, once one stopped the run

    def __post_init__(self) -> None:
        self.protocols = protocol_names(self.protocols)
        if self.prompt not in PROMPTS:
            raise ValueError(f"eval.prompt must be one of {', '.join(PROMPTS)}, got {self.prompt!r}")

    def complete(self, row: dict) -> bool:
        """Whether a stored row serves this run as it is: asked with this prompt, scored under every
        protocol asked for, nothing left to retry. A bad_image row always is (until its image is fixed)."""
        status = row.get("status")
        if status == "bad_image":
            return True
        if status == "generation_failed":
            return False
        if row.get("prompt", "chiron") != self.prompt:
            return False
        scores = row_scores(row)
        return all(p in scores and scores[p].get("status") not in RETRY for p in self.protocols)

    def _reusable(self, row: dict | None) -> bool:
        """A stored row whose reply can be scored again without asking the model."""
        return (row is not None and row.get("reply") is not None and row.get("status") not in NO_REPLY
                and row.get("prompt", "chiron") == self.prompt)

    async def run(self, benchmark: str, items: list[EvalItem], out_dir: str) -> list[dict]:
        """All items' rows in item order (this run's and earlier runs')."""
        path = os.path.join(out_dir, PREDICTIONS)
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
            raise ValueError(f"{benchmark}: duplicate item ids {duplicated[:5]}: results could not be resumed")
        latest = latest_rows(path)
        fixed = await asyncio.to_thread(_images_fixed, items, latest)
        done = {item_id: row for item_id, row in latest.items() if item_id not in fixed and self.complete(row)}
        pending = [item for item in items if item.id not in done]
        previous = {item.id: latest[item.id] for item in pending if self._reusable(latest.get(item.id))}
        bar = tqdm(total=len(pending), desc=f"eval {benchmark}", unit="item", disable=not self.progress)
        counts: Counter = Counter()
        queue = iter(pending)
        out = JsonlAppender(path, unique_key="id", final=self.complete)
        if fixed:  # their old bad_image lines must not block the new ones
            out.forget(fixed)

        async def worker() -> None:
            for item in queue:  # the iterator is only advanced between awaits: no item twice
                if self.stopped_by is not None:
                    return
                row = await self.evaluate(item, previous.get(item.id))
                out.write(row)
                done[item.id] = row
                counts[row["status"]] += 1
                setup = _setup_failure(row)
                if setup is not None and self.stopped_by is None:
                    self.stopped_by = setup
                bar.update(1)
                bar.set_postfix(dict(counts), refresh=False)

        try:
            await run_workers(min(self.items_in_flight, len(pending)), worker)
        finally:
            bar.close()
            out.close()
        return [done[item.id] for item in items if item.id in done]

    async def evaluate(self, item: EvalItem, previous: dict | None = None) -> dict:
        """The item's row: asked (or, with `previous`, its stored reply reused) and scored under
        every protocol."""
        row = {"id": item.id, "benchmark": item.benchmark, "kind": item.kind, "subject": item.subject,
               "question": item.question, "images": list(item.images), "options": [list(o) for o in item.options],
               "gold": gold_text(item), "gold_answer": answer_gold(item),
               "reference_reasoning": item.reference_reasoning, "prompt": self.prompt,
               "protocol": self.protocols[0], "reply": None, "extracted": None, "choice": None, "status": None,
               "judge_reply": None, "scores": {}, "own_path": None}
        if self._reusable(previous):
            reply = previous["reply"]
            scores = {p: dict(v) for p, v in row_scores(previous).items() if v.get("status") not in RETRY}
            row["own_path"] = previous.get("own_path")
        else:
            bad = await asyncio.to_thread(image_problem, item)  # a decode: off the event loop
            if bad is not None:
                row.update(status="bad_image", error=str(bad), bad_image={"path": bad.path, "category": bad.category})
                return row
            try:
                completion = await self.model.chat(eval_messages(item, self.prompt), temperature=self.temperature,
                                                   max_tokens=self.max_tokens, case_id=f"{item.benchmark}/{item.id}")
            except BackendError as exc:
                # a backend that refuses an image itself (changed since the check): set aside the same way
                status = "bad_image" if exc.kind == "bad_image" else "generation_failed"
                row.update(status=status, error=str(exc), failure_kind=exc.kind)
                return row
            reply, scores = completion.text, {}
        row["reply"] = reply
        for protocol in self.protocols:
            if protocol not in scores:
                scores[protocol] = await self.score(protocol, item, reply)
        row["scores"] = scores
        row.update({k: v for k, v in scores[self.protocols[0]].items() if k in SCORE_FIELDS})
        if self.scorers is not None and item.benchmark in self.own_path_benchmarks and not _own_path_done(row):
            try:
                row["own_path"] = await own_path_score(item, reply, self.scorers, self.max_path_steps)
            except BackendError as exc:
                row["own_path"] = {"error": str(exc)}
        return row

    async def score(self, protocol: str, item: EvalItem, reply: str) -> dict:
        """One protocol's verdict on a reply: {status, extracted, choice, judge_reply[, error, failure_kind]}."""
        if protocol == CHIRON:
            verdict = rule_verdict(item, reply)
            out = {"status": verdict.status, "extracted": verdict.extracted, "choice": verdict.choice,
                   "judge_reply": None}
            if verdict.status == "needs_judge":
                await self._judge(item, judge_messages(item_case(item), verdict.extracted), self.judge_temperature,
                                  judge_says_yes, out, verdict.extracted)
            return out
        if protocol == REFERENCE:
            answer = reference_answer(reply)
            out = {"status": "skipped" if answer is None else None, "extracted": answer, "choice": None,
                   "judge_reply": None}
            if answer is not None:  # no rule: every answer goes to the lenient judge
                await self._judge(item, reference_judge_messages(answer, answer_gold(item)),
                                  self.reference_judge_temperature, reference_says_yes, out, answer)
            return out
        raise ValueError(f"unknown protocol {protocol!r}")

    async def _judge(self, item: EvalItem, messages, temperature: float, says_yes, out: dict, answer: str) -> None:
        if self.judge is None:
            out["status"] = "unjudged"
            return
        if isinstance(self.judge, RuleJudge):  # judge=rules: an exact match or wrong, no model asked
            out["status"] = "correct" if self.judge.correct(answer, answer_gold(item)) else "wrong"
            return
        try:
            reply = await self.judge.chat(messages, temperature=temperature, case_id=f"{item.benchmark}/{item.id}")
        except BackendError as exc:
            out.update(status="judge_failed", error=str(exc), failure_kind=exc.kind)
            return
        out["judge_reply"] = reply.text
        out["status"] = "correct" if says_yes(reply.text) else "wrong"


def row_scores(row: dict) -> dict[str, dict]:
    """A stored row's verdict per protocol; a row written before protocols existed holds chiron's."""
    scores = row.get("scores")
    if isinstance(scores, dict):
        return scores
    if row.get("status") in NO_REPLY or row.get("status") is None:
        return {}
    return {CHIRON: {k: row.get(k) for k in SCORE_FIELDS if k in row}}


def protocol_verdict(row: dict, protocol: str) -> dict:
    """The row's verdict under `protocol` (a row without a reply has the same one under all)."""
    if row.get("status") in NO_REPLY or protocol not in row_scores(row):
        return {k: row.get(k) for k in SCORE_FIELDS if k in row}
    return row_scores(row)[protocol]


def _own_path_done(row: dict) -> bool:
    own = row.get("own_path")
    return isinstance(own, dict) and own.get("score") is not None


def _setup_failure(row: dict) -> str | None:
    """The message of a setup failure (refused key, unknown model) in the row or any verdict."""
    for verdict in (row, *row.get("scores", {}).values()):
        if verdict.get("failure_kind") == "setup":
            return verdict.get("error")
    return None


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


def latest_rows(path: str) -> dict[str, dict]:
    """The newest row per item id."""
    return {row["id"]: row for row in read_jsonl(path) if "id" in row}


def finished_rows(path: str) -> dict[str, dict]:
    """The newest row per item id, minus items whose calls failed (those are tried again)."""
    return {item_id: row for item_id, row in latest_rows(path).items() if row.get("status") not in RETRY}
