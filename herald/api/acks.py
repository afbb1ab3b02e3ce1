"""Taking an acknowledgment: check the message, then signal its workflow."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.schemas import AckOutcome, AckResult
from herald.api.workflows import WorkflowGateway
from herald.core.contract import ACKABLE_STATUSES, MessageStatus
from herald.core.models import Message

__all__ = ["acknowledge"]


def _refusal(status: MessageStatus) -> AckOutcome | None:
    """Why an ack is not taken in this status, or ``None`` when it is."""
    if status == MessageStatus.DELIVERED:
        return AckOutcome.ALREADY_DELIVERED
    if status not in ACKABLE_STATUSES:
        return AckOutcome.NOT_ACKNOWLEDGEABLE
    return None


async def acknowledge(
    session: AsyncSession, workflows: WorkflowGateway, message_id: uuid.UUID
) -> AckResult:
    message = await session.get(Message, message_id)
    if message is None:
        return AckResult(id=message_id, outcome=AckOutcome.NOT_FOUND)
    refusal = _refusal(message.status)
    if refusal is None and await workflows.acknowledge(str(message_id)):
        return AckResult(id=message_id, outcome=AckOutcome.ACKNOWLEDGED, status=message.status)
    if refusal is None:  # the workflow finished meanwhile: answer from its final status
        await session.refresh(message)
        refusal = _refusal(message.status) or AckOutcome.NOT_ACKNOWLEDGEABLE
    return AckResult(id=message_id, outcome=refusal, status=message.status)
