"""A circuit breaker per provider, kept in PostgreSQL (``circuit_breakers``).

Every worker reads and writes the same row, so all of them share one breaker per provider and
it survives restarts. Times are the database's clock (``now()``), so workers agree on them
whatever their own clocks say.

::

    closed ──failure rate of a full window ≥ threshold──▶ open
    open ──open timeout passed; the next admit claims the probe──▶ half_open
    half_open ──probe succeeds──▶ closed (window cleared)
    half_open ──probe fails──▶ open (timeout restarts)

A delivery is two calls: :meth:`ProviderBreaker.admit` before the send (raises
:class:`~herald.core.errors.CircuitOpen` when nothing may go out), then
:meth:`ProviderBreaker.record` with the :class:`Admission` and the outcome. On the happy path
(closed, window full of successes, success) the pair costs no statement of its own: the
attempt's first statement reads the breaker in passing (:meth:`ProviderBreaker.reading`), and
a closed breaker admits on that reading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, ScalarSelect, Update, func, or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.breaker_state import failure_rate
from herald.core.database import SessionFactory
from herald.core.errors import CircuitOpen
from herald.core.models import CircuitBreaker, CircuitBreakerState
from herald.core.settings import Settings

__all__ = [
    "MAX_SAMPLE_SIZE",
    "Admission",
    "BreakerReading",
    "Outcome",
    "ProviderBreaker",
]

log = logging.getLogger(__name__)

Outcome = Literal["success", "failure", "neutral"]

MAX_SAMPLE_SIZE = 1000
"""The width of ``circuit_breakers.outcomes``."""
DEFAULT_PROBE_LEASE = timedelta(seconds=30)
PROBE_IN_FLIGHT_WAIT = timedelta(seconds=1)
"""How long a request waits, at most, while another worker's probe is in flight."""

CLOSED = CircuitBreakerState.CLOSED
OPEN = CircuitBreakerState.OPEN
HALF_OPEN = CircuitBreakerState.HALF_OPEN


@dataclass(frozen=True)
class Admission:
    """Leave to send one request; hand it back to :meth:`ProviderBreaker.record`."""

    is_probe: bool
    """The one request a half-open breaker lets through; its outcome closes or reopens it."""
    window: str = ""
    """The closed breaker's recent outcomes as ``admit`` read them, so that recording a
    success into a window already full of successes needs no database access."""


@dataclass(frozen=True)
class BreakerReading:
    """The breaker's row as another statement read it: ``state`` is ``None`` when the
    provider has no row yet."""

    state: CircuitBreakerState | None
    window: str | None


@dataclass(frozen=True)
class _Change:
    values: dict[str, Any]
    to_state: CircuitBreakerState | None
    """The transition, or ``None`` when the state stays."""
    window: str


class ProviderBreaker:
    """One provider's breaker; cheap to build, safe to share between tasks and workers."""

    def __init__(
        self,
        sessions: SessionFactory,
        provider: str,
        *,
        failure_threshold: float,
        sample_size: int,
        open_timeout: timedelta,
        probe_lease: timedelta = DEFAULT_PROBE_LEASE,
    ) -> None:
        """``probe_lease``: a probe not recorded within it (its worker died) may be re-claimed."""
        if not 1 <= sample_size <= MAX_SAMPLE_SIZE:
            raise ValueError(f"sample_size must be 1 to {MAX_SAMPLE_SIZE}, not {sample_size}")
        self._sessions = sessions
        self.provider = provider
        self._threshold = failure_threshold
        self._sample_size = sample_size
        self._healthy = "S" * sample_size
        self._open_timeout = open_timeout
        self._probe_lease = probe_lease
        self._probe_in_flight_wait = min(open_timeout, PROBE_IN_FLIGHT_WAIT)
        own_row = col(CircuitBreaker.provider) == provider
        self._reading = (
            select(col(CircuitBreaker.state)).where(own_row).scalar_subquery(),
            select(col(CircuitBreaker.outcomes)).where(own_row).scalar_subquery(),
        )

    @classmethod
    def from_settings(
        cls, sessions: SessionFactory, provider: str, settings: Settings
    ) -> ProviderBreaker:
        """The ``HERALD_CIRCUIT_BREAKER_*`` settings; a probe's lease is twice the provider
        timeout, since its request ends within one."""
        return cls(
            sessions,
            provider,
            failure_threshold=settings.circuit_breaker_failure_threshold,
            sample_size=settings.circuit_breaker_sample_size,
            open_timeout=timedelta(seconds=settings.circuit_breaker_timeout_seconds),
            probe_lease=timedelta(seconds=2 * settings.provider_timeout_seconds),
        )

    def reading(self) -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
        """The breaker's state and window as scalar subqueries, for another statement to
        return in passing; :class:`BreakerReading` of what they answered is ``admit``'s."""
        return self._reading

    async def admit(self, reading: BreakerReading | None = None) -> Admission:
        """Leave to send one request, or :class:`CircuitOpen` when none may go out now.

        ``reading``: the breaker as a statement just read it (:meth:`reading`); a closed one
        admits on it with no statement. Closed: always (one ``SELECT`` unless read). Open:
        refused until the open timeout passes; then the first caller turns the breaker
        half-open and is the probe. Half-open: refused while the probe is in flight
        (``retry_after_seconds`` at most 1 s), until it is recorded or its lease runs out.
        """
        if reading is not None and reading.state == CLOSED and reading.window is not None:
            return Admission(is_probe=False, window=reading.window)
        async with self._sessions() as session:
            found = await _read(session, self.provider)
            if found is None:
                await self._create(session)
                await session.commit()
                return Admission(is_probe=False)
            row, now = found
            if row.state is CLOSED:
                return Admission(is_probe=False, window=row.outcomes)
            await self._claim_probe(session, row, now)
            await session.commit()
        if row.state is OPEN:
            self._log_transition(OPEN, HALF_OPEN, row.outcomes)
        elif row.probe_started_at is not None:
            log.warning(
                "circuit breaker probe lease expired, probing again",
                extra={"provider": self.provider, "lost_probe_started_at": row.probe_started_at},
            )
        return Admission(is_probe=True, window=row.outcomes)

    async def record(self, admission: Admission, outcome: Outcome) -> None:
        """What became of an admitted request, for the provider's health.

        ``failure``: a transient failure only (timeout, connection error, 408, 425, 5xx).
        ``neutral``: tells nothing about health (429, or the request never went out); not
        counted, and a probe's slot is freed for the next caller. ``success``: the provider
        answered, including permanent refusals (other 4xx): a bad recipient is the message's
        fault, not the provider's, so a storm of 400s must not open the breaker.

        Closed: the outcome joins the window (the newest ``sample_size``); a full window whose
        failure rate reaches the threshold opens the breaker. Half-open: a probe's success
        closes it, its failure reopens it (a probe whose lease was re-claimed still counts:
        it is news about the provider either way). The result of a request admitted before
        the breaker opened is ignored. One transaction holding the row lock, so concurrent
        workers do not lose updates; no database access when a success meets a window full
        of successes.
        """
        if self._writes_nothing(admission, outcome):
            return
        async with self._sessions() as session:
            row = await self._lock(session)
            change = self._change(row, admission, outcome)
            if change is None:
                return
            await session.exec(self._update().values(**change.values, updated_at=func.now()))
            await session.commit()
        if change.to_state is not None:
            self._log_transition(row.state, change.to_state, change.window)

    def _writes_nothing(self, admission: Admission, outcome: Outcome) -> bool:
        """Known from the admission alone (an all-success window may be a little stale:
        skipping one success then only shifts when older failures age out)."""
        if admission.is_probe:
            return False
        return outcome == "neutral" or (outcome == "success" and admission.window == self._healthy)

    def _change(
        self, row: CircuitBreaker, admission: Admission, outcome: Outcome
    ) -> _Change | None:
        if admission.is_probe and row.state is HALF_OPEN:
            return _probe_result(outcome, row.outcomes)
        if row.state is CLOSED and outcome != "neutral":
            return self._sampled(row.outcomes, outcome)
        return None

    def _sampled(self, window: str, outcome: Outcome) -> _Change | None:
        """Append to the window; open when it is full and fails often enough."""
        new = (window + ("S" if outcome == "success" else "F"))[-self._sample_size :]
        if new == window:
            return None
        if len(new) == self._sample_size and failure_rate(new) >= self._threshold:
            return _Change({"outcomes": new, "state": OPEN, "opened_at": func.now()}, OPEN, new)
        return _Change({"outcomes": new}, None, new)

    async def _claim_probe(self, session: AsyncSession, row: CircuitBreaker, now: datetime) -> None:
        """Become the probe with one conditional ``UPDATE``, or raise :class:`CircuitOpen`."""
        if row.state is OPEN:
            wait = _time_left(row.opened_at, self._open_timeout, now)
            due = col(CircuitBreaker.opened_at) + self._open_timeout <= func.now()
        else:
            lease_left = _time_left(row.probe_started_at, self._probe_lease, now)
            wait = min(lease_left, self._probe_in_flight_wait)
            due = self._probe_slot_free()
        if wait:
            raise CircuitOpen(self.provider, retry_after_seconds=wait.total_seconds())
        claimed = await session.exec(
            self._update()
            .where(col(CircuitBreaker.state) == row.state, due)
            .values(state=HALF_OPEN, probe_started_at=func.now(), updated_at=func.now())
        )
        if claimed.rowcount != 1:  # another worker claimed it first
            raise CircuitOpen(
                self.provider, retry_after_seconds=self._probe_in_flight_wait.total_seconds()
            )

    def _update(self) -> Update:
        """An ``UPDATE`` of the provider's row that leaves loaded rows as they were read."""
        return (
            update(CircuitBreaker)
            .where(col(CircuitBreaker.provider) == self.provider)
            .execution_options(synchronize_session=False)
        )

    def _probe_slot_free(self) -> ColumnElement[bool]:
        started = col(CircuitBreaker.probe_started_at)
        return or_(started.is_(None), started + self._probe_lease <= func.now())

    async def _create(self, session: AsyncSession) -> None:
        """The provider's row, closed and empty, unless it exists."""
        await session.exec(
            insert(CircuitBreaker)
            .values(provider=self.provider, state=CLOSED, outcomes="", updated_at=func.now())
            .on_conflict_do_nothing(index_elements=["provider"])
        )

    async def _lock(self, session: AsyncSession) -> CircuitBreaker:
        await self._create(session)
        result = await session.exec(
            select(CircuitBreaker)
            .where(col(CircuitBreaker.provider) == self.provider)
            .with_for_update()
        )
        return result.one()

    def _log_transition(
        self, from_state: CircuitBreakerState, to_state: CircuitBreakerState, window: str
    ) -> None:
        log.log(
            logging.WARNING if to_state is OPEN else logging.INFO,
            "circuit breaker transition",
            extra={
                "provider": self.provider,
                "from": from_state.value,
                "to": to_state.value,
                "failure_rate": round(failure_rate(window), 2),
            },
        )


def _probe_result(outcome: Outcome, window: str) -> _Change:
    values: dict[str, Any]
    if outcome == "success":
        values = {"state": CLOSED, "outcomes": "", "opened_at": None, "probe_started_at": None}
        return _Change(values, CLOSED, "")
    if outcome == "failure":
        values = {"state": OPEN, "opened_at": func.now(), "probe_started_at": None}
        return _Change(values, OPEN, window)
    return _Change({"probe_started_at": None}, None, window)


def _time_left(start: datetime | None, duration: timedelta, now: datetime) -> timedelta:
    """Until ``start + duration``; nothing left when there is no ``start``."""
    if start is None:
        return timedelta(0)
    return max(start + duration - now, timedelta(0))


async def _read(session: AsyncSession, provider: str) -> tuple[CircuitBreaker, datetime] | None:
    """The provider's row and the database's ``now()``."""
    result = await session.exec(
        select(CircuitBreaker, func.now()).where(col(CircuitBreaker.provider) == provider)
    )
    found = result.first()
    return (found[0], found[1]) if found is not None else None
