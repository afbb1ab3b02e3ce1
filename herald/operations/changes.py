"""What a submitter may change about a message the provider does not have yet: cancel it, or
give it another priority (DESIGN §12).

A ``pending`` message has no workflow yet: the change is one conditional update of its row
(the outbox relay's start finds it canceled, or starts it with the new priority). Otherwise
the message's workflow takes the change as a Temporal update, and PostgreSQL decides a race
with an attempt starting: a message already ``sending`` refuses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import col

from herald.activities.outcome_events import enqueue_outcome_event
from herald.core.contract import CHANGEABLE_STATUSES, MessageStatus, Priority
from herald.core.database import SessionFactory
from herald.core.errors import Conflict, NotFound
from herald.core.models import Message, utcnow
from herald.operations.actions import (
    CancelOutcome,
    CancelResult,
    Standing,
    act_on_each,
    standings_of,
)
from herald.operations.keys import Principal
from herald.operations.workflows import WorkflowGateway

__all__ = ["CHANGEABLE", "cancel_messages", "change_priority"]

CHANGEABLE = "scheduled, pending, queued or retrying"
"""The statuses a change is allowed in, for problem details."""


async def cancel_messages(
    sessions: SessionFactory,
    workflows: WorkflowGateway,
    ids: Sequence[uuid.UUID],
    principal: Principal,
) -> list[CancelResult]:
    """A result per distinct id, in the order first asked; another tenant's message is
    ``not_found`` unless ``principal`` is an admin."""

    async def cancel_one(message_id: uuid.UUID, standing: Standing | None) -> CancelResult:
        if standing is None:
            return CancelResult(id=message_id, outcome=CancelOutcome.NOT_FOUND)
        return await _cancel(sessions, workflows, message_id, standing.status)

    tenant_id = principal.tenant_to_list(None)
    return await act_on_each(sessions, ids, cancel_one, "cancel", principal.key_id, tenant_id)


async def _cancel(
    sessions: SessionFactory,
    workflows: WorkflowGateway,
    message_id: uuid.UUID,
    status: MessageStatus,
) -> CancelResult:
    canceled = CancelResult(
        id=message_id, outcome=CancelOutcome.CANCELED, status=MessageStatus.CANCELED
    )
    if status == MessageStatus.PENDING:
        changed, sends = await _change_pending(sessions, message_id, status=MessageStatus.CANCELED)
        if changed:
            await workflows.start_webhook_sends(sends)
            return canceled
    status = await _status_of(sessions, message_id)
    if status in CHANGEABLE_STATUSES:
        if await workflows.cancel(str(message_id)) is not None:
            return canceled
        status = await _status_of(sessions, message_id)
        if status == MessageStatus.CANCELED:  # canceled as asked (an answer lost as it closed)
            return canceled
    return CancelResult(id=message_id, outcome=CancelOutcome.NOT_CANCELABLE, status=status)


async def change_priority(
    sessions: SessionFactory,
    workflows: WorkflowGateway,
    message_id: uuid.UUID,
    priority: Priority,
    principal: Principal,
) -> Message:
    """The message with its new priority; 404 for an unknown (or another tenant's) message,
    409 with ``current_status`` once the provider has it or it has finished."""
    standings = await standings_of(sessions, [message_id], principal.tenant_to_list(None))
    if message_id not in standings:
        raise NotFound(f"there is no message {message_id}")
    status = standings[message_id].status
    changed = (
        status == MessageStatus.PENDING
        and (await _change_pending(sessions, message_id, priority=priority))[0]
    )
    if not changed:
        status = await _status_of(sessions, message_id)
        changed = (
            status in CHANGEABLE_STATUSES
            and await workflows.change_priority(str(message_id), priority) is not None
        )
    async with sessions() as session:
        message = await session.get(Message, message_id)
    assert message is not None, "messages are never deleted while their tenant lives"
    if not changed:
        raise Conflict(
            f"message {message_id} is {message.status}; only {CHANGEABLE} messages can change "
            "priority",
            extensions={"current_status": message.status},
        )
    return message


async def _change_pending(
    sessions: SessionFactory,
    message_id: uuid.UUID,
    *,
    status: MessageStatus | None = None,
    priority: Priority | None = None,
) -> tuple[bool, list[str]]:
    """Change a message that is still ``pending`` (no workflow yet); False if it no longer
    is (the relay started it meanwhile). A cancel enqueues its outcome webhook sends in the
    same transaction: their ids, for the caller to start."""
    values: dict[str, object] = {"updated_at": utcnow()}
    if status is not None:
        values["status"] = status
    if priority is not None:
        values["priority"] = priority
    async with sessions() as session:
        message = await session.scalar(
            update(Message)
            .where(col(Message.id) == message_id, col(Message.status) == MessageStatus.PENDING)
            .values(**values)
            .returning(Message)
        )
        sends = [] if status is None else await enqueue_outcome_event(session, message, status)
        await session.commit()
    return message is not None, sends


async def _status_of(sessions: SessionFactory, message_id: uuid.UUID) -> MessageStatus:
    standing = (await standings_of(sessions, [message_id]))[message_id]
    return standing.status
