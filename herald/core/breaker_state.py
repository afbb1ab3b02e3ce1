"""Reading the circuit breakers' shared state (the ``circuit_breakers`` table).

The delivery activities change it (``herald.activities.breaker``); the API only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.models import CircuitBreaker, CircuitBreakerState
from herald.core.settings import Settings

__all__ = ["BreakerView", "failure_rate", "snapshot"]


@dataclass(frozen=True)
class BreakerView:
    """A breaker as it stands now, for the API."""

    provider: str
    state: CircuitBreakerState
    """Effective: an open breaker whose timeout has passed shows ``half_open``."""
    failure_rate: float
    """Share of transient failures among the ``samples`` recorded attempts."""
    samples: int
    sample_size: int
    opened_at: datetime | None
    half_open_at: datetime | None
    """When an open breaker lets a probe through (``opened_at`` + the open timeout)."""


def failure_rate(window: str) -> float:
    """Share of ``F`` in a window of outcomes; 0 for an empty one."""
    return window.count("F") / len(window) if window else 0.0


async def snapshot(session: AsyncSession, settings: Settings) -> list[BreakerView]:
    """Every provider's breaker, by provider name."""
    open_timeout = timedelta(seconds=settings.circuit_breaker_timeout_seconds)
    result = await session.exec(
        select(CircuitBreaker, func.now()).order_by(col(CircuitBreaker.provider))
    )
    return [
        _view(row, now, open_timeout, settings.circuit_breaker_sample_size) for row, now in result
    ]


def _view(
    row: CircuitBreaker, now: datetime, open_timeout: timedelta, sample_size: int
) -> BreakerView:
    half_open_at = row.opened_at + open_timeout if row.opened_at is not None else None
    timed_out = (
        row.state is CircuitBreakerState.OPEN and half_open_at is not None and half_open_at <= now
    )
    return BreakerView(
        provider=row.provider,
        state=CircuitBreakerState.HALF_OPEN if timed_out else row.state,
        failure_rate=failure_rate(row.outcomes),
        samples=len(row.outcomes),
        sample_size=sample_size,
        opened_at=row.opened_at,
        half_open_at=half_open_at,
    )
