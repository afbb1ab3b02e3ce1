"""Background loops that never end silently.

A :class:`SupervisedLoop` runs its step again and again until it is cancelled. Whatever a step
raises (a dropped or terminated connection, a lock that outlives the step's time bound, a
bug) is logged and the step is tried again after a back-off; an outage it expects (the
database unreachable) is one warning line, anything else a logged traceback. The loop
remembers when its step last succeeded, so readiness checks can report a loop that is stuck.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from herald.core.database import DATABASE_UNAVAILABLE

__all__ = ["Clock", "Step", "SupervisedLoop", "supervised"]

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[float]]
"""One round of a loop's work; answers the seconds to wait before the next one."""
Clock = Callable[[], float]


class SupervisedLoop:
    """Runs ``step`` until cancelled; a failed step is retried after ``retry_after`` seconds,
    doubled on each failure in a row up to ``max_retry_after``. ``step_timeout`` bounds one
    step (a hung step counts as failed)."""

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        retry_after: float,
        max_retry_after: float = 60.0,
        step_timeout: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self._step = step
        self._retry_after = retry_after
        self._max_retry_after = max(max_retry_after, retry_after)
        self._step_timeout = step_timeout
        self._clock = clock
        self._started_at = clock()
        self.last_success: float | None = None
        """Clock reading at the end of the last step that succeeded."""

    def seconds_since_success(self) -> float:
        """Since the last good step; since the loop was created when none has succeeded."""
        return self._clock() - (self.last_success or self._started_at)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with asyncio.timeout(self._step_timeout):
                    delay = await self._step()
            except Exception as err:  # supervised: whatever fails is logged and retried
                failures += 1
                delay = min(self._retry_after * 2 ** (failures - 1), self._max_retry_after)
                self._log_failure(err, failures, delay)
            else:
                failures = 0
                self.last_success = self._clock()
            await asyncio.sleep(delay)

    def _log_failure(self, err: Exception, failures: int, delay: float) -> None:
        fields = {"task": self.name, "failures": failures, "retry_in_seconds": delay}
        if isinstance(err, TimeoutError) and self._step_timeout is not None:
            log.warning(
                "background step timed out",
                extra=fields | {"timeout_seconds": self._step_timeout},
            )
        elif isinstance(err, DATABASE_UNAVAILABLE):
            log.warning("background step: database unavailable", extra=fields | {"error": err})
        else:
            log.exception("background step failed", extra=fields)


@asynccontextmanager
async def supervised(*loops: SupervisedLoop) -> AsyncIterator[None]:
    """Run the loops as tasks for the block; cancel them and wait for them at its end."""
    tasks = [asyncio.create_task(loop.run(), name=loop.name) for loop in loops]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
