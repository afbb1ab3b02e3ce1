"""``/v1/messages/.../ack``: the gateway's acknowledgments, signalled to the workflows.

Acks come from the provider gateway, for every tenant: with a key that has the ``acks:write``
scope, or (the bulk route) as a callback the gateway signs with Standard Webhooks and
``HERALD_GATEWAY_SECRET``, its body naming the ids so that a signature cannot be replayed
for other messages.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from herald.api.auth import MISSING_KEY
from herald.api.deps import AcksWriter, ServicesDep, SessionsDep, WorkflowsDep, bearer, scoped
from herald.api.openapi import (
    INVALID,
    NOT_FOUND,
    READING_A_BODY,
    STATUS_CONFLICT,
    UNAVAILABLE,
    problem_responses,
)
from herald.api.schemas import AckOutcome, AckResult, ActionResults, MessageIds
from herald.core import webhooks
from herald.core.errors import Unauthorized
from herald.core.scopes import Scope
from herald.operations.actions import acknowledge, raise_for_refusal
from herald.operations.keys import Principal

__all__ = ["router"]

router = APIRouter(prefix="/messages", tags=["acknowledgments"])

ACKABLE = (
    "accepted by the provider at some attempt (a 2xx) and not yet finished (awaiting_ack, "
    "retrying, dead_lettered)"
)


IN_FLIGHT = UNAVAILABLE.meaning(
    "PostgreSQL or Temporal did not answer, or an attempt was still in flight after 3 s; "
    "send the ack again: an ack counts once"
)


GATEWAY = "gateway-signature"
"""Who an ack signed by the gateway is from, in the logs."""


async def acking_caller(
    request: Request,
    services: ServicesDep,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who acks: a key with ``acks:write`` (its id), or the gateway, whose Standard Webhooks
    signature over the body (``HERALD_GATEWAY_SECRET``, five minutes' tolerance, compared in
    constant time) stands in for a key."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return (await scoped(Scope.ACKS_WRITE)(principal)).key_id
    secret = services.settings.gateway_secret
    if secret is None:
        raise Unauthorized(MISSING_KEY)
    try:
        webhooks.verify(secret, request.headers, await request.body())
    except webhooks.InvalidSignature as err:
        raise Unauthorized(f"the gateway's signature does not hold: {err}") from None
    return GATEWAY


@router.post("/ack", responses=problem_responses(*READING_A_BODY, IN_FLIGHT))
async def acknowledge_many(
    body: MessageIds,
    sessions: SessionsDep,
    workflows: WorkflowsDep,
    caller: Annotated[str, Depends(acking_caller)],
) -> ActionResults[AckOutcome]:
    """A result per distinct id: `acknowledged`, `already_delivered`, `not_found` or
    `not_acknowledgeable`. With a key that has `acks:write`, or signed by the gateway."""
    return ActionResults(results=await acknowledge(sessions, workflows, body.message_ids, caller))


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
    message_id: uuid.UUID, sessions: SessionsDep, workflows: WorkflowsDep, principal: AcksWriter
) -> AckResult:
    """200 when taken (or already delivered); 404 unknown; 409 when no attempt was accepted
    by the provider, or the message finished otherwise. Needs a key with `acks:write`."""
    [result] = await acknowledge(sessions, workflows, [message_id], principal.key_id)
    return raise_for_refusal(result, ACKABLE)
