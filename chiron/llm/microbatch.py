"""Micro-batching for in-process backends.

Callers submit one request at a time from many coroutines; a single worker task gathers
whatever arrives within `wait_ms` (or until `batch_size` are waiting) and hands the list to a
synchronous `run_batch` in a thread, so the event loop keeps running while the model works.
Only one batch runs at a time: a GPU gains nothing from two overlapping generate calls.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from chiron.llm.types import ChatRequest, Completion

RunBatch = Callable[[list[ChatRequest]], list[Completion]]


class MicroBatcher:
    def __init__(self, run_batch: RunBatch, batch_size: int = 8, wait_ms: float = 5.0) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._run_batch = run_batch
        self.batch_size = int(batch_size)
        self.wait_s = max(0.0, float(wait_ms)) / 1000.0
        # The queue and worker are created lazily so the batcher can be built outside a loop.
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def submit(self, request: ChatRequest) -> Completion:
        """Queue one request and wait for its completion (or its batch's exception)."""
        if self._closed:
            raise RuntimeError("MicroBatcher is closed")
        self._ensure_worker()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def aclose(self) -> None:
        """Stop the worker; requests still queued fail instead of hanging forever."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass
            self._worker = None
        if self._queue is not None:
            while not self._queue.empty():
                _, future = self._queue.get_nowait()
                if not future.done():
                    future.set_exception(RuntimeError("MicroBatcher closed before the request ran"))

    # -- internals -------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A queue belongs to one event loop; a new loop (e.g. a second asyncio.run) gets a fresh one.
            self._loop, self._queue, self._worker = loop, asyncio.Queue(), None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())

    async def _collect(self) -> list[tuple[ChatRequest, asyncio.Future]]:
        """Block for the first item, then gather more until the batch is full or time is up."""
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while len(batch) < self.batch_size:
            # Take what is already queued without waiting.
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            remaining = deadline - loop.time()
            if len(batch) >= self.batch_size or remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return batch

    async def _work(self) -> None:
        while True:
            batch = await self._collect()
            # A waiter may have been cancelled while queued; do not spend compute on it.
            live = [(req, fut) for req, fut in batch if not fut.done()]
            if not live:
                continue
            requests = [req for req, _ in live]
            try:
                results = await asyncio.to_thread(self._run_batch, requests)
                if len(results) != len(requests):
                    raise RuntimeError(
                        f"run_batch returned {len(results)} completions for {len(requests)} requests"
                    )
            except asyncio.CancelledError:
                _fail_all(live, RuntimeError("MicroBatcher closed while the batch ran"))
                raise
            except Exception as exc:  # every waiter of this batch sees the same failure
                _fail_all(live, exc)
                continue
            for (_, fut), result in zip(live, results):
                if not fut.done():
                    fut.set_result(result)


def _fail_all(items: list[tuple[ChatRequest, asyncio.Future]], exc: BaseException) -> None:
    for _, fut in items:
        if not fut.done():
            fut.set_exception(exc)
