"""Outcome events, enqueued in the transaction that writes the status (DESIGN §11).

When a message reaches an outcome (delivered, dead-lettered, expired, discarded, canceled,
suppressed), :func:`enqueue_outcome_event` inserts one send per endpoint of the message's
tenant that subscribes to the event, in the caller's session, so the status and its sends
commit together or not at all. The body is snapshotted now: ``{type, timestamp, data}`` with
``data`` the message as ``GET /v1/messages/{id}`` shows it, without its content.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Uuid, any_, false, func, literal
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from herald.core.contract import MessageStatus
from herald.core.models import Message, MessagePublic
from herald.core.outcomes import OUTCOME_EVENTS, OutcomeEvent
from herald.core.webhook_models import WebhookEndpoint, WebhookSend, WebhookSendState

__all__ = ["EVENT_NAMESPACE", "OutcomeEventBody", "enqueue_outcome_event", "has_subscriber"]

EVENT_NAMESPACE = uuid.UUID("6d1f7c2e-0b7a-4f0e-9a51-3c8e2f4b9d10")
"""Event ids recorded by a workflow's bookkeeping are derived in this namespace."""


class OutcomeEventBody(BaseModel):
    """What an endpoint receives."""

    type: OutcomeEvent
    timestamp: datetime
    data: dict[str, object]

    @classmethod
    def of(cls, event: OutcomeEvent, message: Message) -> OutcomeEventBody:
        data = MessagePublic.of(message).model_dump(mode="json", exclude={"content"})
        return cls(type=event, timestamp=message.updated_at, data=data)


def has_subscriber(status: MessageStatus) -> ColumnElement[bool]:
    """Whether an endpoint of the message's tenant subscribes to the event of reaching
    ``status`` (false when there is no such event), for a statement on ``messages`` to read
    in passing: without a subscriber, :func:`enqueue_outcome_event` has nothing to do."""
    event = OUTCOME_EVENTS.get(status)
    if event is None:
        return false()
    return _subscribed(event, col(Message.tenant_id)).exists()


def _subscribed(event: OutcomeEvent, tenant_id: Any) -> sa.Select[uuid.UUID]:
    """The endpoints of ``tenant_id`` that subscribe to ``event``."""
    return sa.select(col(WebhookEndpoint.id)).where(
        col(WebhookEndpoint.tenant_id) == tenant_id,
        col(WebhookEndpoint.deleted_at).is_(None),
        literal(event.value) == any_(col(WebhookEndpoint.events)),
    )


async def enqueue_outcome_event(
    session: AsyncSession, message: Message | None, status: MessageStatus
) -> list[str]:
    """Insert the sends of ``message`` reaching ``status`` (just written, in ``session``'s
    transaction, which the caller commits); answer their ids. No event for that status, or
    no endpoint subscribed: nothing inserted, and for the latter one statement spent.

    Written again for the same recording (a local activity retried after its first run
    committed), it inserts nothing new and answers the sends of the first run: the event's
    id is derived from the recording activity, so nothing is sent twice under two ids.
    """
    event = OUTCOME_EVENTS.get(status)
    if event is None or message is None:
        return []
    event_id = _event_id()
    body = OutcomeEventBody.of(event, message).model_dump_json()
    endpoints = _subscribed(event, message.tenant_id).with_only_columns(
        func.gen_random_uuid(),
        literal(event_id, Uuid()),
        col(WebhookEndpoint.id),
        literal(message.id, Uuid()),
        literal(event.value),
        literal(body),
        literal(WebhookSendState.PENDING.value),
        literal(0),
        literal(message.updated_at),
    )
    statement = insert(WebhookSend).from_select(
        [
            "id",
            "event_id",
            "endpoint_id",
            "message_id",
            "event_type",
            "body",
            "state",
            "attempts",
            "created_at",
        ],
        endpoints,
    )
    # On a second recording of the same event, the no-op update answers the existing sends.
    statement = statement.on_conflict_do_update(
        index_elements=["event_id", "endpoint_id"],
        set_={"event_id": statement.excluded.event_id},
    )
    rows = await session.exec(statement.returning(col(WebhookSend.id)))
    return [str(send_id) for (send_id,) in rows]


def _event_id() -> uuid.UUID:
    """Stable across retries of the recording activity (its id is the workflow's sequence
    number of that local activity); random elsewhere."""
    if not activity.in_activity():
        return uuid.uuid4()
    info = activity.info()
    return uuid.uuid5(
        EVENT_NAMESPACE, f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
    )
