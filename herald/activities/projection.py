"""Writes each message's transitions and attempts to PostgreSQL, the projection the API reads.

The database is also the arbiter of races between the workflow and the outside: an attempt
starts only if the message is still open and its recipient not suppressed, and a cancel or a
priority change applies only while the message is in a status that allows it (one row lock
decides which came first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    String,
    any_,
    bindparam,
    exists,
    insert,
    update,
)
from sqlalchemy.sql.dml import ReturningUpdate
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.activities.breaker import BreakerReading, ProviderBreaker
from herald.activities.outcome_events import enqueue_outcome_event, has_subscriber
from herald.core.contract import (
    CHANGEABLE_STATUSES,
    TERMINAL_STATUSES,
    FailureClass,
    Line,
    MessageStatus,
    PriorityChange,
    Reprioritized,
    Transition,
)
from herald.core.database import SessionFactory, autocommit, engine_of
from herald.core.hot_statements import HotStatement
from herald.core.models import Attempt, AttemptOutcome, Message, Suppression, utcnow
from herald.core.outcomes import Recorded

__all__ = ["AttemptContext", "AttemptRecord", "MessageProjection", "Settled"]


@dataclass(frozen=True)
class AttemptContext:
    """What an attempt needs from the row (the content stays out of workflow history), and
    the provider's circuit breaker as the same statement read it."""

    recipient: str
    content: str
    priority: str
    sequence_number: int | None
    breaker: BreakerReading


@dataclass(frozen=True)
class Settled:
    """The message can no longer be sent: it is ``status`` (canceled, suppressed, ...)."""

    status: MessageStatus


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as it ended, for the ``attempts`` table."""

    attempt: int
    started_at: datetime
    outcome: AttemptOutcome
    http_status: int | None = None
    provider_message_id: str | None = None
    failure_class: FailureClass | None = None
    failure_reason: str | None = None


def _suppressed() -> ColumnElement[bool]:
    """The message's recipient is on its tenant's suppression list."""
    return exists().where(
        col(Suppression.tenant_id) == col(Message.tenant_id),
        col(Suppression.recipient) == col(Message.recipient),
    )


class MessageProjection:
    """Each method is one transaction, most of them one statement (in autocommit: no
    ``BEGIN`` and ``COMMIT`` round trips around it)."""

    def __init__(self, sessions: SessionFactory, breaker: ProviderBreaker) -> None:
        self._sessions = sessions
        self._autocommit = autocommit(sessions)
        self._engine = engine_of(sessions)
        self._breaker = breaker
        self._begin = HotStatement(_begin_statement(breaker))

    async def begin_attempt(self, message_id: str, attempt: int) -> AttemptContext | Settled | None:
        """Mark the message ``sending`` if it is still open and its recipient not suppressed,
        reading the circuit breaker in passing; else what it is (``suppressed`` for a
        suppressed recipient); ``None`` when there is no such message."""
        now = utcnow()
        values = {
            "message": uuid.UUID(message_id),
            "retries": attempt - 1,
            "now": now,
            "retried_at": now if attempt > 1 else None,
        }
        begun = await self._begin.fetch(self._engine, values)
        if begun:
            recipient, content, priority, sequence_number, state, window = begun[0]
            breaker = BreakerReading(state, window)
            return AttemptContext(recipient, content, priority, sequence_number, breaker)
        async with self._autocommit.connect() as connection:
            found = (
                await connection.execute(
                    select(col(Message.status), _suppressed()).where(
                        col(Message.id) == uuid.UUID(message_id)
                    )
                )
            ).first()
        if found is None:
            return None
        status, suppressed = found
        if status in TERMINAL_STATUSES:
            return Settled(MessageStatus(status))
        if suppressed:
            return Settled(MessageStatus.SUPPRESSED)
        # Its suppression was lifted between the two statements: the attempt is retried.
        raise RuntimeError(f"message {message_id} changed while its attempt began")

    async def accept(
        self, message_id: str, provider_message_id: str | None, record: AttemptRecord
    ) -> None:
        now = utcnow()
        values = {
            "status": MessageStatus.AWAITING_ACK,
            "provider_message_id": provider_message_id,
            "accepted_at": now,
            "updated_at": now,
        }
        await self._update(message_id, values, record)

    async def fail_attempt(
        self, message_id: str, record: AttemptRecord, *, retry_in: timedelta | None
    ) -> None:
        """Record a failed (or deferred) attempt; with ``retry_in`` the message is
        ``retrying`` until then."""
        now = utcnow()
        values: dict[str, Any] = {
            "failure_reason": record.failure_reason,
            "failure_class": record.failure_class,
            "updated_at": now,
        }
        if retry_in is not None:
            values |= {"status": MessageStatus.RETRYING, "next_retry_at": now + retry_in}
        await self._update(message_id, values, record)

    async def apply(self, transition: Transition) -> Recorded:
        """Write a transition the workflow decided (only from the statuses it names, if
        any), and enqueue in the same transaction the outcome webhook sends it raises
        (DESIGN §11); the status the message has after it. Without a subscribed endpoint
        (and an attempt to mark) that is one statement in autocommit."""
        now = utcnow()
        retry_in = transition.next_retry_in_seconds
        values: dict[str, Any] = {
            "status": transition.status,
            "next_retry_at": now + timedelta(seconds=retry_in) if retry_in is not None else None,
            "updated_at": now,
        }
        if transition.status is MessageStatus.DELIVERED:
            # A late ack may deliver a dead letter: its failure is history now.
            values |= {"delivered_at": now, "failure_reason": None, "failure_class": None}
        if transition.released_from_line:
            values["line_released_at"] = now
        optional = {
            "retry_count": transition.retry_count,
            "failure_reason": transition.failure_reason,
            "failure_class": transition.failure_class,
            "priority": transition.priority,
        }
        values |= {name: value for name, value in optional.items() if value is not None}
        message_id = uuid.UUID(transition.message_id)
        if transition.ack_timeout_attempt is None:
            # The common case, no endpoint to tell and no attempt to mark: one statement.
            alone = _unobserved_transition(
                transition.status, frozenset(values), transition.only_from is not None
            )
            bound = {f"new_{name}": value for name, value in values.items()}
            bound |= {"message": message_id, "only_from": transition.only_from}
            if await alone.fetch(self._engine, bound):
                return Recorded(True, transition.status)
        # A finished message stays finished (a cancel may have settled it meanwhile).
        conditions = [col(Message.id) == message_id, col(Message.status).not_in(TERMINAL_STATUSES)]
        if transition.only_from is not None:
            conditions.append(col(Message.status).in_(transition.only_from))
        subscribed = has_subscriber(transition.status)
        async with self._sessions() as session:
            updated = update(Message).where(*conditions).values(**values)
            row: tuple[Message, bool] | None = (
                await session.exec(updated.returning(Message, subscribed))
            ).first()
            if row is None:
                found = select(Message, subscribed).where(*conditions[:1])
                row = (await session.exec(found)).first()
                if row is None or row[0].status != transition.status:
                    status = row[0].status if row is not None else transition.status
                    return Recorded(False, status)
                # Already so: a recording run again after its first run committed. It answers
                # the same sends (their event id is the recording's).
            elif transition.ack_timeout_attempt is not None:
                await _mark_ack_timeout(session, transition, transition.ack_timeout_attempt)
            message, is_subscribed = row
            sends = []
            if is_subscribed:
                sends = await enqueue_outcome_event(session, message, transition.status)
            await session.commit()
        return Recorded(True, transition.status, sends)

    async def reprioritize(self, change: PriorityChange) -> Reprioritized:
        """Change the priority while the message is not with the provider."""
        message = col(Message.id) == uuid.UUID(change.message_id)
        async with self._sessions() as session:
            row = (
                await session.exec(
                    update(Message)
                    .where(message, col(Message.status).in_(CHANGEABLE_STATUSES))
                    .values(priority=change.priority, updated_at=utcnow())
                    .returning(
                        col(Message.status), col(Message.retry_count), col(Message.next_retry_at)
                    )
                )
            ).first()
            await session.commit()
            if row is None:
                status = await session.scalar(select(col(Message.status)).where(message))
                return Reprioritized(False, MessageStatus(status or MessageStatus.PENDING))
        status, retry_count, next_retry_at = row
        return Reprioritized(True, MessageStatus(status), retry_count, next_retry_at)

    async def first_open_sequence_number(self, line: Line) -> int | None:
        """The lowest sequence number of the recipient's strict messages still in its line:
        not finished, and not a dead letter that released the line."""
        async with self._sessions() as session:
            number = await session.scalar(
                select(func.min(col(Message.sequence_number))).where(
                    col(Message.tenant_id) == line.tenant_id,
                    col(Message.recipient) == line.recipient,
                    col(Message.ordering) == "strict",
                    col(Message.status).not_in(TERMINAL_STATUSES),
                    col(Message.line_released_at).is_(None),
                )
            )
        return int(number) if number is not None else None

    async def _update(self, message_id: str, values: dict[str, Any], record: AttemptRecord) -> None:
        """Update the message and add the attempt, in one statement (the update a
        data-modifying ``WITH`` of the insert)."""
        finished_at = utcnow()
        attempt = {
            "attempt": record.attempt,
            "started_at": record.started_at,
            "finished_at": finished_at,
            "outcome": record.outcome,
            "http_status": record.http_status,
            "duration_ms": round((finished_at - record.started_at).total_seconds() * 1000),
            "provider_message_id": record.provider_message_id,
            "failure_class": record.failure_class,
            "failure_reason": record.failure_reason,
        }
        bound = {f"attempt_{name}": value for name, value in attempt.items()}
        bound |= {f"message_{name}": value for name, value in values.items()}
        bound["message"] = uuid.UUID(message_id)
        await _attempt_statement(frozenset(values), tuple(attempt)).fetch(self._engine, bound)


def _begin_statement(breaker: ProviderBreaker) -> ReturningUpdate[Any]:
    """An attempt's first statement (see ``begin_attempt``), built once per projection: a
    delivery's hot path, where building it and its cache key each time cost more than
    running it. The message, the attempt's numbers and the time are bound at execution."""
    now = bindparam("now", type_=DateTime(timezone=True))
    retried_at = bindparam("retried_at", type_=DateTime(timezone=True))
    return (
        update(Message)
        .where(
            col(Message.id) == bindparam("message"),
            col(Message.status).not_in(TERMINAL_STATUSES),
            ~_suppressed(),
        )
        .values(
            status=MessageStatus.SENDING,
            retry_count=bindparam("retries"),
            next_retry_at=None,
            updated_at=now,
            last_retry_at=func.coalesce(retried_at, col(Message.last_retry_at)),
        )
        .returning(
            col(Message.recipient),
            col(Message.content),
            col(Message.priority),
            col(Message.sequence_number),
            *breaker.reading(),
        )
    )


@cache
def _unobserved_transition(
    status: MessageStatus, changed: frozenset[str], restricted: bool
) -> HotStatement:
    """``apply``'s one statement, for a transition to ``status`` no endpoint subscribes to:
    built once per status and set of ``changed`` columns, with the statuses it may come from
    (if ``restricted``) bound as ``only_from``, the message as ``message`` and the new values
    as ``new_<column>``."""
    conditions = [
        col(Message.id) == bindparam("message"),
        col(Message.status).not_in(TERMINAL_STATUSES),
        ~has_subscriber(status),
    ]
    if restricted:
        statuses = ARRAY(String)
        conditions.append(col(Message.status) == any_(bindparam("only_from", type_=statuses)))
    return HotStatement(
        update(Message)
        .where(*conditions)
        .values({name: bindparam(f"new_{name}") for name in changed})
        .returning(col(Message.id))
    )


@cache
def _attempt_statement(changed: frozenset[str], recorded: tuple[str, ...]) -> HotStatement:
    """The insert of the attempt's ``recorded`` columns, with the update of the ``changed``
    columns of its message as a data-modifying ``WITH``: built once per set of columns (an
    accept, a failure, a deferral), everything bound at execution: the message's id as
    ``message``, its new values as ``message_<column>``, the attempt's as
    ``attempt_<column>``."""
    message = (
        update(Message)
        .where(col(Message.id) == bindparam("message"))
        .values({name: bindparam(f"message_{name}") for name in changed})
        .returning(col(Message.id))
        .cte("message")
    )
    values: dict[str, Any] = {name: bindparam(f"attempt_{name}") for name in recorded}
    return HotStatement(
        insert(Attempt).values(message_id=bindparam("message"), **values).add_cte(message)
    )


async def _mark_ack_timeout(session: AsyncSession, transition: Transition, attempt: int) -> None:
    """The accepted attempt ``attempt`` (the latest of that number) got no ack in time."""
    latest = (
        select(func.max(col(Attempt.id)))
        .where(
            col(Attempt.message_id) == uuid.UUID(transition.message_id),
            col(Attempt.attempt) == attempt,
        )
        .scalar_subquery()
    )
    await session.exec(
        update(Attempt)
        .where(col(Attempt.id) == latest, col(Attempt.outcome) == AttemptOutcome.ACCEPTED)
        .values(outcome=AttemptOutcome.ACK_TIMEOUT)
    )
