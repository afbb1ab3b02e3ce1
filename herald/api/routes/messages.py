"""``/v1/messages``: submit, read, list and acknowledge messages."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from herald.api.acks import acknowledge
from herald.api.deps import SessionDep, SettingsDep, WorkflowsDep
from herald.api.schemas import AckBatch, AckBatchResult, AckResult, MessagePage
from herald.core.contract import MessageStatus, Priority
from herald.core.errors import Conflict, NotFound
from herald.core.models import E164, Message, MessageCreate, MessagePublic

__all__ = ["router"]

router = APIRouter(prefix="/messages", tags=["messages"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Up to 255 printable characters; generated when absent",
    ),
]


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def submit_message(
    body: MessageCreate,
    session: SessionDep,
    settings: SettingsDep,
    workflows: WorkflowsDep,
    idempotency_key: IdempotencyKey = None,
) -> MessagePublic:
    """Commit the message, then start its delivery; 202 means it is stored durably."""
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        recipient=body.recipient,
        content=body.content,
        priority=body.priority,
        ordering=body.ordering or settings.ordering_mode,
        meta=body.metadata,
        idempotency_key=idempotency_key or str(message_id),
    )
    session.add(message)
    try:
        await session.commit()
    except IntegrityError:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} is already used by another message"
        ) from None
    await workflows.start(message)
    return MessagePublic.of(message)


@router.get("/{message_id}")
async def get_message(message_id: uuid.UUID, session: SessionDep) -> MessagePublic:
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound(f"there is no message {message_id}")
    return MessagePublic.of(message)


@router.get("")
async def list_messages(
    session: SessionDep,
    status: MessageStatus | None = None,
    recipient: E164 | None = None,
    priority: Priority | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MessagePage:
    """Newest first."""
    filters = [
        condition
        for condition in (
            col(Message.status) == status if status else None,
            col(Message.recipient) == recipient if recipient else None,
            col(Message.priority) == priority if priority else None,
        )
        if condition is not None
    ]
    total = await session.scalar(select(func.count()).select_from(Message).where(*filters))
    rows = await session.exec(
        select(Message)
        .where(*filters)
        .order_by(col(Message.created_at).desc(), col(Message.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return MessagePage(
        items=[MessagePublic.of(message) for message in rows],
        total=total or 0,
        page=page,
        page_size=page_size,
    )


@router.post("/ack")
async def acknowledge_many(
    body: AckBatch, session: SessionDep, workflows: WorkflowsDep
) -> AckBatchResult:
    """A result per id; one unknown or finished message does not fail the others."""
    return AckBatchResult(
        results=[
            await acknowledge(session, workflows, message_id) for message_id in body.message_ids
        ]
    )


@router.post("/{message_id}/ack")
async def acknowledge_one(
    message_id: uuid.UUID, session: SessionDep, workflows: WorkflowsDep
) -> AckResult:
    result = await acknowledge(session, workflows, message_id)
    if result.outcome == "not_found":
        raise NotFound(f"there is no message {message_id}")
    if result.outcome == "not_acknowledgeable":
        raise Conflict(
            f"message {message_id} is {result.status}; only a message that was sent "
            "(sending, awaiting_ack, retrying) can be acknowledged",
            extensions={"current_status": result.status},
        )
    return result
