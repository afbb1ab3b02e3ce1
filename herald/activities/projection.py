"""Writes each message's transitions to PostgreSQL, the projection the API reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, func, select

from herald.activities.outcome_events import enqueue_outcome_event
from herald.core.contract import (
    TERMINAL_STATUSES,
    FailureClass,
    Line,
    MessageStatus,
    Transition,
)
from herald.core.database import SessionFactory
from herald.core.models import Message, utcnow

__all__ = ["AttemptContext", "MessageProjection"]


@dataclass(frozen=True)
class AttemptContext:
    """What an attempt needs from the row: the content stays out of workflow history."""

    recipient: str
    content: str
    priority: str
    sequence_number: int | None


class MessageProjection:
    """Each method is one UPDATE in its own transaction."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def begin_attempt(self, message_id: str, attempt: int) -> AttemptContext | None:
        """Mark the message ``sending``; ``None`` when there is no such message."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": MessageStatus.SENDING,
            "retry_count": attempt - 1,
            "next_retry_at": None,
            "updated_at": now,
        }
        if attempt > 1:
            values["last_retry_at"] = now
        columns = (Message.recipient, Message.content, Message.priority, Message.sequence_number)
        row = await self._update(message_id, values, returning=columns)
        return AttemptContext(*row) if row is not None else None

    async def accept(self, message_id: str, provider_message_id: str | None) -> None:
        now = utcnow()
        await self._update(
            message_id,
            {
                "status": MessageStatus.AWAITING_ACK,
                "provider_message_id": provider_message_id,
                "accepted_at": now,
                "updated_at": now,
            },
        )

    async def fail_attempt(
        self,
        message_id: str,
        *,
        reason: str,
        failure_class: FailureClass,
        retry_in: timedelta | None,
    ) -> None:
        """Record a failed attempt; with ``retry_in`` the message is ``retrying`` until then."""
        now = utcnow()
        values: dict[str, Any] = {
            "failure_reason": reason,
            "failure_class": failure_class,
            "updated_at": now,
        }
        if retry_in is not None:
            values |= {"status": MessageStatus.RETRYING, "next_retry_at": now + retry_in}
        await self._update(message_id, values)

    async def apply(self, transition: Transition) -> list[str]:
        """Write a transition the workflow decided; answers the ids of the outcome webhook
        sends it enqueued in the same transaction (DESIGN §11)."""
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
        }
        values |= {name: value for name, value in optional.items() if value is not None}
        statement = (
            update(Message)
            .where(col(Message.id) == uuid.UUID(transition.message_id))
            .values(**values)
            .returning(Message)
        )
        async with self._sessions() as session:
            message = await session.scalar(statement)
            sends = await enqueue_outcome_event(session, message, transition.status)
            await session.commit()
        return sends

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

    async def _update(
        self, message_id: str, values: dict[str, Any], returning: tuple[Any, ...] = ()
    ) -> tuple[Any, ...] | None:
        statement = update(Message).where(col(Message.id) == uuid.UUID(message_id)).values(**values)
        if returning:
            statement = statement.returning(*returning)
        async with self._sessions() as session:
            result = await session.exec(statement)
            row = result.first() if returning else None
            await session.commit()
        return tuple(row) if row is not None else None
