"""Herald's operational metrics, computed from PostgreSQL over a sliding window.

Every API and worker process reads the same rows, so each answers the same numbers: nothing
is kept in one process's memory. Over the last ``HERALD_METRICS_WINDOW_SECONDS``:

* a message is *delivered in the window* when its ``delivered_at`` falls in it, and
  *dead-lettered in the window* when it is ``dead_lettered`` now and was last updated in it
  (the dead-lettering is its last write); together they are the messages *settled* in it;
* ``messages_per_second``: delivered in the window ÷ the window's length;
* ``average_processing_time_ms``: mean of ``delivered_at - created_at`` (submit to
  acknowledgment) of those delivered in the window; ``None`` when none were;
* ``retry_rate``: the share of delivery attempts that were retries, among the messages
  settled in the window: ``sum(retry_count) ÷ sum(retry_count + 1)``; 0 when none settled;
* ``failure_rate``: dead-lettered ÷ settled in the window; 0 when none settled.

Not windowed: ``queue_depth`` counts the messages still under way now (``pending``,
``queued``, ``sending``, ``retrying``, ``awaiting_ack``) by priority, and
``circuit_breaker_state`` is each provider's breaker state now.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, extract, or_, true
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.background import SupervisedLoop, supervised
from herald.core.breaker_state import snapshot
from herald.core.contract import TERMINAL_STATUSES, MessageStatus, Priority
from herald.core.database import SessionFactory
from herald.core.models import CircuitBreakerState, Message
from herald.core.settings import Settings

__all__ = [
    "UNDER_WAY_STATUSES",
    "MetricsSummary",
    "RefreshedSummary",
    "logging_metrics",
    "summarize",
]

log = logging.getLogger("herald.metrics")

UNDER_WAY_STATUSES = (
    frozenset(MessageStatus)
    - TERMINAL_STATUSES
    - {
        MessageStatus.DEAD_LETTERED,
        MessageStatus.SCHEDULED,
    }
)
"""What ``queue_depth`` counts: neither finished, nor waiting in the dead-letter queue, nor
scheduled for later."""


@dataclass(frozen=True)
class MetricsSummary:
    """The numbers of the module docstring, as they stand at one moment."""

    window_seconds: float
    delivered: int
    """Messages delivered in the window."""
    dead_lettered: int
    """Messages dead-lettered in the window (and still dead-lettered)."""
    messages_per_second: float
    average_processing_time_ms: float | None
    queue_depth: dict[Priority, int]
    """Every priority, in order ``high``, ``normal``, ``low``."""
    retry_rate: float
    failure_rate: float
    circuit_breaker_state: dict[str, CircuitBreakerState]

    def log_fields(self) -> dict[str, Any]:
        """Flat ``key=value`` fields for a log line."""
        depth = {f"queue_depth_{priority}": count for priority, count in self.queue_depth.items()}
        breakers = {
            f"circuit_breaker_{provider}": state.value
            for provider, state in self.circuit_breaker_state.items()
        }
        scalars = {
            "window_seconds": self.window_seconds,
            "delivered": self.delivered,
            "dead_lettered": self.dead_lettered,
            "messages_per_second": self.messages_per_second,
            "average_processing_time_ms": self.average_processing_time_ms,
            "retry_rate": self.retry_rate,
            "failure_rate": self.failure_rate,
        }
        return scalars | depth | breakers


@dataclass(frozen=True)
class _Settled:
    """The window's aggregate over the messages settled in it."""

    count: int
    delivered: int
    retries: int
    average_processing_seconds: float | None


async def summarize(
    session: AsyncSession, settings: Settings, tenant_id: str | None = None
) -> MetricsSummary:
    """Three queries: the window's aggregate, the queue depth, the breakers; the messages of
    ``tenant_id`` only, if given (the breakers serve every tenant)."""
    window = settings.metrics_window_seconds
    of_tenant = col(Message.tenant_id) == tenant_id if tenant_id is not None else true()
    settled = await _settled_in_window(session, window, of_tenant)
    attempts = settled.count + settled.retries
    dead_lettered = settled.count - settled.delivered
    average = settled.average_processing_seconds
    breakers = await snapshot(session, settings)
    return MetricsSummary(
        window_seconds=window,
        delivered=settled.delivered,
        dead_lettered=dead_lettered,
        messages_per_second=settled.delivered / window,
        average_processing_time_ms=average * 1000 if average is not None else None,
        queue_depth=await _queue_depth(session, of_tenant),
        retry_rate=settled.retries / attempts if attempts else 0.0,
        failure_rate=dead_lettered / settled.count if settled.count else 0.0,
        circuit_breaker_state={view.provider: view.state for view in breakers},
    )


async def _settled_in_window(
    session: AsyncSession, window_seconds: float, of_tenant: ColumnElement[bool]
) -> _Settled:
    """The window starts at the database's ``now()``, the one clock every process shares."""
    since = func.now() - timedelta(seconds=window_seconds)
    delivered: ColumnElement[bool] = col(Message.delivered_at) >= since
    dead_lettered = and_(
        col(Message.status) == MessageStatus.DEAD_LETTERED, col(Message.updated_at) >= since
    )
    processing_seconds = extract("epoch", col(Message.delivered_at) - col(Message.created_at))
    statement = select(
        func.count(),
        func.count().filter(delivered),
        func.coalesce(func.sum(col(Message.retry_count)), 0),
        func.avg(processing_seconds).filter(delivered),
    ).where(of_tenant, or_(delivered, dead_lettered))
    count, delivered_count, retries, average = (await session.exec(statement)).one()
    return _Settled(
        count, delivered_count, int(retries), float(average) if average is not None else None
    )


async def _queue_depth(
    session: AsyncSession, of_tenant: ColumnElement[bool]
) -> dict[Priority, int]:
    statement = (
        select(col(Message.priority), func.count())
        .where(of_tenant, col(Message.status).in_(UNDER_WAY_STATUSES))
        .group_by(col(Message.priority))
    )
    counts = dict((await session.exec(statement)).all())
    return {priority: counts.get(priority, 0) for priority in Priority}


class RefreshedSummary:
    """The summary, recomputed every ``interval`` seconds by a supervised loop: readers (a
    Prometheus scrape) never query the database, and a failed refresh keeps the last one."""

    def __init__(
        self, sessions: SessionFactory, settings: Settings, interval: float, *, log: bool = False
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._interval = interval
        self._log = log
        self.latest: MetricsSummary | None = None
        self.loop = SupervisedLoop("metrics", self._refresh, retry_after=interval)

    def age_seconds(self) -> float | None:
        """Since the latest summary was computed; ``None`` before the first one."""
        return None if self.latest is None else self.loop.seconds_since_success()

    async def _refresh(self) -> float:
        async with self._sessions() as session:
            self.latest = await summarize(session, self._settings)
        if self._log:
            log.info("metrics", extra=self.latest.log_fields())
        return self._interval


@asynccontextmanager
async def logging_metrics(sessions: SessionFactory, settings: Settings) -> AsyncIterator[None]:
    """For the block, log the summary (logger ``herald.metrics``) every
    ``HERALD_METRICS_LOG_INTERVAL_SECONDS``."""
    logged = RefreshedSummary(sessions, settings, settings.metrics_log_interval_seconds, log=True)
    async with supervised(logged.loop):
        yield
