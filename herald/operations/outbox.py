"""The outbox relay: starts the workflows of messages left ``pending``.

A submit commits the row before it starts the workflow; when Temporal (or the database,
right after the commit) did not answer, the row stays ``pending``. Each row is its request's
to start until ``next_start_at``, the end of the request's starting window (a batch of 1000
takes seconds to start, and the relay must not start it a second time meanwhile). The relay
runs in every API process: it claims the pending rows that are due, oldest first, with ``FOR
UPDATE SKIP LOCKED`` (so replicas share the work without doing it twice), starts their workflows
(idempotent: the workflow id is the message's), and marks the started ones ``queued`` in the
same transaction.

A row whose start is refused backs off on its own (``start_attempts``, ``next_start_at``:
the relay's interval doubled per refusal, at most ``MAX_BACK_OFF``) while the others go on,
so one refused start (a recipient's line at Temporal's signal limit, say) never holds up the
rest. When Temporal does not answer at all, the sweep stops after the starts in flight, so a
down server costs a bounded number of calls per interval. The relay runs as a
:class:`~herald.core.background.SupervisedLoop`: a failed sweep is logged and retried, and
readiness reports a relay whose last good sweep is too old.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.background import SupervisedLoop
from herald.core.contract import MessageStatus
from herald.core.database import SessionFactory
from herald.core.models import Message, utcnow
from herald.operations.workflows import (
    MAX_CONCURRENT_STARTS,
    StartOutcome,
    WorkflowGateway,
    mark_queued,
)

__all__ = ["MAX_BACK_OFF", "OutboxRelay"]

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_BACK_OFF = timedelta(seconds=60)
"""The longest a refused row waits before its next start."""
STALE_AFTER_INTERVALS = 10
"""Readiness fails when the last good sweep is older than this many intervals."""


class OutboxRelay:
    def __init__(
        self, sessions: SessionFactory, workflows: WorkflowGateway, interval_seconds: float
    ) -> None:
        self._sessions = sessions
        self._workflows = workflows
        self._interval = interval_seconds
        self.loop = SupervisedLoop(
            "outbox relay",
            self._sweep_and_pause,
            retry_after=interval_seconds,
            step_timeout=max(30.0, 3 * interval_seconds),
        )

    @property
    def stale_after_seconds(self) -> float:
        return STALE_AFTER_INTERVALS * self._interval

    def is_stale(self) -> bool:
        """The last good sweep is too old: the relay is stuck or keeps failing."""
        return self.loop.seconds_since_success() > self.stale_after_seconds

    async def _sweep_and_pause(self) -> float:
        """A full sweep is followed at once by the next one."""
        return 0.0 if await self.sweep() else self._interval

    async def sweep(self) -> bool:
        """Try to start up to ``BATCH_SIZE`` due messages; True when a full batch was tried
        and Temporal answered (more may be due)."""
        now = utcnow()
        async with self._sessions() as session:
            due = (
                await session.exec(
                    select(Message)
                    .where(col(Message.status) == MessageStatus.PENDING)
                    .where(
                        or_(col(Message.next_start_at).is_(None), col(Message.next_start_at) <= now)
                    )
                    .order_by(func.coalesce(col(Message.next_start_at), col(Message.created_at)))
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            # The rows stay locked until the commit; marking them queued is one statement,
            # not an update of each loaded object at the commit.
            session.expunge_all()
            started, refused, reachable = await self._start(due)
            if started:
                await mark_queued(await session.connection(), started)
                log.info("outbox relay started pending messages", extra={"count": len(started)})
            if refused:
                await self._back_off(session, refused)
            await session.commit()
        return reachable and len(due) == BATCH_SIZE

    async def _start(self, due: Sequence[Message]) -> tuple[list[Message], list[Message], bool]:
        """Start ``MAX_CONCURRENT_STARTS`` at a time: the started, the refused, and whether
        Temporal answered throughout (the rest is left for a later sweep when it did not)."""
        started: list[Message] = []
        refused: list[Message] = []
        for first in range(0, len(due), MAX_CONCURRENT_STARTS):
            chunk = due[first : first + MAX_CONCURRENT_STARTS]
            outcomes = await asyncio.gather(*map(self._workflows.start_workflow, chunk))
            for message, outcome in zip(chunk, outcomes, strict=True):
                (started if outcome is StartOutcome.STARTED else refused).append(message)
            if StartOutcome.UNREACHABLE in outcomes:
                return started, refused, False
        return started, refused, True

    async def _back_off(self, session: AsyncSession, refused: list[Message]) -> None:
        """Each refused row waits the interval doubled per refusal (at most ``MAX_BACK_OFF``)
        before its next start."""
        attempts = col(Message.start_attempts)
        seconds = func.least(self._interval * func.power(2, attempts), MAX_BACK_OFF.total_seconds())
        await session.exec(
            update(Message)
            .where(col(Message.id).in_([message.id for message in refused]))
            .where(col(Message.status) == MessageStatus.PENDING)
            .values(
                start_attempts=attempts + 1,
                next_start_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds),
            )
        )
