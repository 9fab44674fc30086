"""Run a fixed number of asyncio workers that stop together when one of them fails."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


async def run_workers(count: int, worker: Callable[[], Awaitable[None]]) -> None:
    """Run `count` copies of `worker` until all return. The first one to raise cancels the others
    (their model calls in flight are cancelled too, so nothing more is paid for), and its exception
    is raised once; `asyncio.gather` would let the others run on and each fail on its own."""
    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, count))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    failed = [t for t in tasks if not t.cancelled() and t.exception() is not None]
    if failed:
        raise failed[0].exception()
