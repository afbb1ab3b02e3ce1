"""``/v1/messages/{id}/cancel``, ``/v1/messages/cancel`` and ``PATCH /v1/messages/{id}``:
what a submitter may change before the provider has the message (DESIGN §12)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from herald.api.deps import MessagesWriter, SessionsDep, WorkflowsDep
from herald.api.openapi import (
    INVALID,
    NOT_FOUND,
    READING_A_BODY,
    STATUS_CONFLICT,
    problem_responses,
)
from herald.api.schemas import ActionResults, CancelOutcome, CancelResult, MessageIds
from herald.core.contract import Priority
from herald.core.models import MessagePublic
from herald.operations.actions import raise_for_refusal
from herald.operations.changes import CHANGEABLE, cancel_messages, change_priority

__all__ = ["router"]

router = APIRouter(prefix="/messages", tags=["messages"])

NOT_CHANGEABLE = STATUS_CONFLICT.meaning(
    f"The provider has the message, or it finished: only {CHANGEABLE} messages allow this"
)


class PriorityChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority


@router.post("/cancel", responses=problem_responses(*READING_A_BODY))
async def cancel_many(
    body: MessageIds, sessions: SessionsDep, workflows: WorkflowsDep, principal: MessagesWriter
) -> ActionResults[CancelOutcome]:
    """A result per distinct id: `canceled`, `not_found` or `not_cancelable`."""
    results = await cancel_messages(sessions, workflows, body.message_ids, principal)
    return ActionResults(results=results)


@router.post(
    "/{message_id}/cancel", responses=problem_responses(NOT_FOUND, NOT_CHANGEABLE, INVALID)
)
async def cancel_one(
    message_id: uuid.UUID,
    sessions: SessionsDep,
    workflows: WorkflowsDep,
    principal: MessagesWriter,
) -> CancelResult:
    """Cancel a message the provider does not have yet: `canceled` for good, never sent."""
    [result] = await cancel_messages(sessions, workflows, [message_id], principal)
    return raise_for_refusal(result, CHANGEABLE)


@router.patch(
    "/{message_id}", responses=problem_responses(NOT_FOUND, NOT_CHANGEABLE, *READING_A_BODY)
)
async def reprioritize(
    message_id: uuid.UUID,
    body: PriorityChangeRequest,
    sessions: SessionsDep,
    workflows: WorkflowsDep,
    principal: MessagesWriter,
) -> MessagePublic:
    """Give a message the provider does not have yet another priority; its next attempt
    runs with it (one waiting in the queue, or between retries, is rescheduled)."""
    message = await change_priority(sessions, workflows, message_id, body.priority, principal)
    return MessagePublic.of(message)
