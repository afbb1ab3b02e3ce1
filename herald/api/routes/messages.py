"""``/v1/messages``: submit, read and list messages."""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status
from sqlmodel import col

from herald.api.deps import SessionDep, SettingsDep, WorkflowsDep
from herald.api.idempotency import fingerprint, store_once
from herald.api.queries import Pagination, page_of_messages, sort_order
from herald.api.schemas import MessagePage
from herald.core.contract import MessageStatus, Priority
from herald.core.errors import NotFound
from herald.core.models import E164, Message, MessageCreate, MessagePublic
from herald.core.settings import Settings

__all__ = ["router"]

router = APIRouter(prefix="/messages", tags=["messages"])

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Up to 255 printable characters; generated when absent",
    ),
]


SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {
        "model": MessagePublic,
        "description": "Replay: this `Idempotency-Key` already stored this request's message; "
        "nothing new was stored or started",
        "headers": {"Idempotent-Replayed": {"description": "`true`", "schema": {"type": "string"}}},
    },
    status.HTTP_202_ACCEPTED: {"description": "Stored durably; its delivery has started"},
    status.HTTP_409_CONFLICT: {
        "description": "The `Idempotency-Key` is held by a different request until it expires"
    },
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=SUBMIT_RESPONSES)
async def submit_message(
    body: MessageCreate,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    workflows: WorkflowsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MessagePublic:
    """Commit the message, then start its delivery; 202 means it is stored durably.

    With an ``Idempotency-Key`` seen within ``HERALD_IDEMPOTENCY_TTL_HOURS``, the same body
    answers 200 with the original message and starts nothing; another body answers 409.
    """
    message = _new_message(body, settings, idempotency_key)
    client_fingerprint = fingerprint(body) if idempotency_key else None
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    submission = await store_once(session, message, client_fingerprint, ttl)
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
        return MessagePublic.of(submission.message)
    await workflows.start(message)
    return MessagePublic.of(message)


def _new_message(body: MessageCreate, settings: Settings, idempotency_key: str | None) -> Message:
    """The row for a submit; without a client key, the key is the message's own id."""
    message_id = uuid.uuid4()
    return Message(
        id=message_id,
        recipient=body.recipient,
        content=body.content,
        priority=body.priority,
        ordering=body.ordering or settings.ordering_mode,
        meta=body.metadata,
        idempotency_key=idempotency_key or str(message_id),
    )


@router.get("/{message_id}")
async def get_message(message_id: uuid.UUID, session: SessionDep) -> MessagePublic:
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound(f"there is no message {message_id}")
    return MessagePublic.of(message)


class MessageSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"


@router.get("")
async def list_messages(
    session: SessionDep,
    pagination: Annotated[Pagination, Depends()],
    sort: MessageSort = MessageSort.CREATED_AT_DESC,
    status: MessageStatus | None = None,
    recipient: E164 | None = None,
    priority: Priority | None = None,
) -> MessagePage:
    """Newest first unless `sort` says otherwise."""
    return await page_of_messages(
        session,
        pagination,
        sort_order(sort),
        col(Message.status) == status if status else None,
        col(Message.recipient) == recipient if recipient else None,
        col(Message.priority) == priority if priority else None,
    )
