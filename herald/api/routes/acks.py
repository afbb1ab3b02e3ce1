"""``/v1/messages/.../ack``: the gateway's acknowledgments, signalled to the workflows."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from herald.api.deps import SessionsDep, WorkflowsDep
from herald.api.openapi import (
    INVALID,
    NOT_FOUND,
    READING_A_BODY,
    STATUS_CONFLICT,
    UNAVAILABLE,
    problem_responses,
)
from herald.api.schemas import AckOutcome, AckResult, ActionResults, MessageIds
from herald.operations.actions import acknowledge, raise_for_refusal

__all__ = ["router"]

router = APIRouter(prefix="/messages", tags=["acknowledgments"])

ACKABLE = (
    "accepted by the provider at some attempt (a 2xx) and not yet finished (awaiting_ack, "
    "retrying, dead_lettered)"
)


IN_FLIGHT = UNAVAILABLE.meaning(
    "PostgreSQL or Temporal did not answer, or an attempt was still in flight after 3 s; "
    "nothing was changed: send the ack again"
)


@router.post("/ack", responses=problem_responses(*READING_A_BODY, IN_FLIGHT))
async def acknowledge_many(
    body: MessageIds, sessions: SessionsDep, workflows: WorkflowsDep
) -> ActionResults[AckOutcome]:
    """A result per id: `acknowledged`, `already_delivered`, `not_found` or
    `not_acknowledgeable`."""
    return ActionResults(results=await acknowledge(sessions, workflows, body.message_ids))


@router.post(
    "/{message_id}/ack",
    responses=problem_responses(
        NOT_FOUND,
        STATUS_CONFLICT.meaning(
            "No attempt was accepted by the provider (`pending`, `queued`, refused, only "
            "failed), or it ended otherwise (`discarded`, `expired`)"
        ),
        INVALID,
        IN_FLIGHT,
    ),
)
async def acknowledge_one(
    message_id: uuid.UUID, sessions: SessionsDep, workflows: WorkflowsDep
) -> AckResult:
    """200 when taken (or already delivered); 404 unknown; 409 when no attempt was accepted
    by the provider, or the message finished otherwise."""
    [result] = await acknowledge(sessions, workflows, [message_id])
    return raise_for_refusal(result, ACKABLE)
