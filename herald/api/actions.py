"""Acting on messages by id through their workflows: acknowledge, requeue, discard.

Each action checks the status PostgreSQL holds first (one query for a whole batch), asks the
workflow only when the status allows it, and answers a result per id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select

from herald.api.bounded import map_bounded
from herald.api.schemas import (
    AckOutcome,
    AckResult,
    ActionResult,
    DeadLetterOutcome,
    DeadLetterResult,
    OutcomeT,
)
from herald.api.workflows import WorkflowGateway
from herald.core.contract import ACKABLE_STATUSES, DeadLetterAction, MessageStatus
from herald.core.database import SessionFactory
from herald.core.errors import Conflict, NotFound
from herald.core.models import Message

__all__ = ["acknowledge", "raise_for_refusal", "resolve_dead_letters"]

MAX_CONCURRENT_CALLS = 32
"""Temporal calls in flight at once for one batch."""


async def statuses_of(
    sessions: SessionFactory, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, MessageStatus]:
    async with sessions() as session:
        rows = await session.exec(
            select(col(Message.id), col(Message.status)).where(col(Message.id).in_(ids))
        )
        return dict(rows.all())


def _ack_refusal(status: MessageStatus) -> AckOutcome | None:
    """Why an ack is not taken in this status, or ``None`` when it is."""
    if status == MessageStatus.DELIVERED:
        return AckOutcome.ALREADY_DELIVERED
    if status not in ACKABLE_STATUSES:
        return AckOutcome.NOT_ACKNOWLEDGEABLE
    return None


async def acknowledge(
    sessions: SessionFactory, workflows: WorkflowGateway, ids: Sequence[uuid.UUID]
) -> list[AckResult]:
    statuses = await statuses_of(sessions, ids)

    async def one(message_id: uuid.UUID) -> AckResult:
        status = statuses.get(message_id)
        if status is None:
            return AckResult(id=message_id, outcome=AckOutcome.NOT_FOUND)
        refusal = _ack_refusal(status)
        if refusal is None and await workflows.acknowledge(str(message_id)):
            return AckResult(id=message_id, outcome=AckOutcome.ACKNOWLEDGED, status=status)
        if refusal is None:  # the workflow finished meanwhile: answer from its final status
            status = (await statuses_of(sessions, [message_id]))[message_id]
            refusal = _ack_refusal(status) or AckOutcome.NOT_ACKNOWLEDGEABLE
        return AckResult(id=message_id, outcome=refusal, status=status)

    return await map_bounded(one, ids, MAX_CONCURRENT_CALLS)


DONE = {
    DeadLetterAction.REQUEUE: DeadLetterOutcome.REQUEUED,
    DeadLetterAction.DISCARD: DeadLetterOutcome.DISCARDED,
}


async def resolve_dead_letters(
    sessions: SessionFactory,
    workflows: WorkflowGateway,
    ids: Sequence[uuid.UUID],
    action: DeadLetterAction,
) -> list[DeadLetterResult]:
    statuses = await statuses_of(sessions, ids)

    async def one(message_id: uuid.UUID) -> DeadLetterResult:
        status = statuses.get(message_id)
        if status is None:
            return DeadLetterResult(id=message_id, outcome=DeadLetterOutcome.NOT_FOUND)
        if status == MessageStatus.DEAD_LETTERED:
            new_status = await workflows.resolve_dead_letter(str(message_id), action)
            if new_status is not None:
                return DeadLetterResult(id=message_id, outcome=DONE[action], status=new_status)
            status = (await statuses_of(sessions, [message_id]))[message_id]
        return DeadLetterResult(
            id=message_id, outcome=DeadLetterOutcome.NOT_DEAD_LETTERED, status=status
        )

    return await map_bounded(one, ids, MAX_CONCURRENT_CALLS)


REFUSALS = {AckOutcome.NOT_ACKNOWLEDGEABLE, DeadLetterOutcome.NOT_DEAD_LETTERED}


def raise_for_refusal(result: ActionResult[OutcomeT], allowed: str) -> ActionResult[OutcomeT]:
    """For single-message routes: 404 for an unknown id, 409 (with the current status) when
    its status does not allow the action; ``allowed`` names the statuses that do."""
    if result.outcome in (AckOutcome.NOT_FOUND, DeadLetterOutcome.NOT_FOUND):
        raise NotFound(f"there is no message {result.id}")
    if result.outcome in REFUSALS:
        raise Conflict(
            f"message {result.id} is {result.status}; only {allowed} messages allow this",
            extensions={"current_status": result.status},
        )
    return result
