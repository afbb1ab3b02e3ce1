"""Polling until a count is reached, failing only when it stops growing: a large run may take
long, but a run that makes no progress for ``timeout`` seconds is stuck."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["wait_until_counted"]


async def wait_until_counted(
    count: Callable[[], Awaitable[int]], target: int, timeout: float, interval: float, what: str
) -> None:
    """Until ``count()`` (which may raise to fail the wait) reaches ``target``; raises
    :class:`RuntimeError` when it has not grown for ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    best, deadline = -1, loop.time() + timeout
    while (done := await count()) < target:
        if done > best:
            best, deadline = done, loop.time() + timeout
        elif loop.time() >= deadline:
            raise RuntimeError(f"{what}: {done} of {target}, none more in {timeout:g} s")
        await asyncio.sleep(interval)
