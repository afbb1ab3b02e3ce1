"""Many Temporal calls at once, but not too many."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["map_bounded"]

T = TypeVar("T")
R = TypeVar("R")


async def map_bounded(
    function: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int
) -> list[R]:
    """``function`` on every item, at most ``limit`` at a time; results in the items' order."""
    slots = asyncio.Semaphore(limit)

    async def bounded(item: T) -> R:
        async with slots:
            return await function(item)

    return list(await asyncio.gather(*(bounded(item) for item in items)))
