"""The outbox relay: starts the workflows of messages left ``pending``.

A submit commits the row before it starts the workflow; when Temporal (or the database,
right after the commit) did not answer, the row stays ``pending``. The relay runs in every
API process: it claims the oldest pending rows with ``FOR UPDATE SKIP LOCKED`` (so replicas
share the work without doing it twice), starts each workflow (idempotent: the workflow id is
the message's) and marks it ``queued`` in the same transaction. It sleeps between sweeps and
stops a sweep at the first start Temporal refuses, so a down server costs one bounded call
per interval.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlmodel import col, select

from herald.api.workflows import WorkflowGateway, mark_queued
from herald.core.contract import MessageStatus
from herald.core.database import DATABASE_UNAVAILABLE, SessionFactory
from herald.core.models import Message, utcnow

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MIN_AGE = timedelta(seconds=2)
"""Younger rows are still being started by the request that stored them."""


class OutboxRelay:
    def __init__(
        self, sessions: SessionFactory, workflows: WorkflowGateway, interval_seconds: float
    ) -> None:
        self._sessions = sessions
        self._workflows = workflows
        self._interval = interval_seconds

    async def run(self) -> None:
        """Sweep until cancelled; a full sweep is followed at once by the next one."""
        while True:
            try:
                started = await self.sweep()
            except DATABASE_UNAVAILABLE as err:
                log.warning("outbox relay cannot reach the database", extra={"error": str(err)})
                started = 0
            if started < BATCH_SIZE:
                await asyncio.sleep(self._interval)

    async def sweep(self) -> int:
        """Start up to ``BATCH_SIZE`` pending messages, oldest first; how many were started."""
        async with self._sessions() as session:
            pending = await session.exec(
                select(Message)
                .where(col(Message.status) == MessageStatus.PENDING)
                .where(col(Message.created_at) < utcnow() - MIN_AGE)
                .order_by(col(Message.created_at))
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            )
            started = []
            for message in pending.all():
                if not await self._workflows.start_workflow(message):
                    break  # Temporal is not answering: try again after the interval
                started.append(message)
            if started:
                await mark_queued(session, started)
                log.info("outbox relay started pending messages", extra={"count": len(started)})
            await session.commit()
        return len(started)
