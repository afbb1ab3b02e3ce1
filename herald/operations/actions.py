"""Acting on messages by id through their workflows: acknowledge, requeue, discard.

Each action checks what PostgreSQL holds first (one query for a whole batch), asks the
workflow only when that allows it, and answers a result per distinct id. An ack is taken only
for a message the provider accepted at some attempt; requeue and discard answer the status
the workflow reached, or a refusal when something else (a late ack, the retention passing)
settled the dead letter first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ARRAY, Uuid, any_, bindparam
from sqlmodel import col, select

from herald.core.contract import ACKABLE_STATUSES, DeadLetterAction, MessageStatus
from herald.core.database import SessionFactory, engine_of
from herald.core.errors import Conflict, NotFound, ServiceUnavailable
from herald.core.hot_statements import HotStatement
from herald.core.models import Message
from herald.operations.bounded import map_bounded
from herald.operations.keys import Principal
from herald.operations.workflows import WorkflowGateway

__all__ = [
    "STANDINGS_QUERY",
    "AckOutcome",
    "AckResult",
    "ActionResult",
    "CancelOutcome",
    "CancelResult",
    "DeadLetterOutcome",
    "DeadLetterResult",
    "OutcomeT",
    "acknowledge",
    "act_on_each",
    "log_action",
    "raise_for_refusal",
    "resolve_dead_letters",
    "standings_of",
]

log = logging.getLogger(__name__)

MAX_CONCURRENT_CALLS = 32
"""Temporal calls in flight at once for one batch."""
ATTEMPT_SETTLE_SECONDS = 3.0
"""How long an ack waits for an attempt in flight to be recorded as accepted or failed."""
SETTLE_POLL_SECONDS = 0.05
"""How often it reads the message's standing meanwhile."""


class AckOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY_DELIVERED = "already_delivered"
    NOT_FOUND = "not_found"
    NOT_ACKNOWLEDGEABLE = "not_acknowledgeable"


class DeadLetterOutcome(StrEnum):
    REQUEUED = "requeued"
    DISCARDED = "discarded"
    NOT_FOUND = "not_found"
    NOT_DEAD_LETTERED = "not_dead_lettered"


class CancelOutcome(StrEnum):
    CANCELED = "canceled"
    NOT_FOUND = "not_found"
    NOT_CANCELABLE = "not_cancelable"


OutcomeT = TypeVar("OutcomeT", AckOutcome, DeadLetterOutcome, CancelOutcome)


class ActionResult(BaseModel, Generic[OutcomeT]):
    """What one action on one message did."""

    id: uuid.UUID
    outcome: OutcomeT
    status: MessageStatus | None = Field(
        default=None, description="The message's status after the action (none if unknown)"
    )


AckResult = ActionResult[AckOutcome]
CancelResult = ActionResult[CancelOutcome]
DeadLetterResult = ActionResult[DeadLetterOutcome]


@dataclass(frozen=True)
class Standing:
    """What an action needs to know of a message from PostgreSQL."""

    status: MessageStatus
    accepted: bool
    """Some attempt was accepted by the provider (2xx)."""


async def standings_of(
    sessions: SessionFactory, ids: Sequence[uuid.UUID], tenant_id: str | None = None
) -> dict[uuid.UUID, Standing]:
    """The standing of each message found (of ``tenant_id`` only, if given)."""
    query, values = (
        (_STANDINGS, {"ids": ids})
        if tenant_id is None
        else (_TENANT_STANDINGS, {"ids": ids, "tenant": tenant_id})
    )
    rows = await query.fetch(engine_of(sessions), values)
    return {
        message_id: Standing(status, accepted_at is not None)
        for message_id, status, accepted_at in rows
    }


STANDINGS_QUERY = select(col(Message.id), col(Message.status), col(Message.accepted_at)).where(
    col(Message.id) == any_(bindparam("ids", type_=ARRAY(Uuid)))
)
"""The standing of the messages ``ids``: every ack reads it, so it runs on the driver."""
_STANDINGS = HotStatement(STANDINGS_QUERY)
_TENANT_STANDINGS = HotStatement(
    STANDINGS_QUERY.where(col(Message.tenant_id) == bindparam("tenant"))
)


async def settled_standing(sessions: SessionFactory, message_id: uuid.UUID) -> Standing:
    """The message's standing once no attempt is in flight (``sending``): a gateway may ack
    the attempt whose acceptance is still being recorded. Bounded: 503 if it stays sending.
    A read has just found it sending, so each read comes after a pause."""
    async with asyncio.timeout(ATTEMPT_SETTLE_SECONDS):
        while True:
            await asyncio.sleep(SETTLE_POLL_SECONDS)
            standing = (await standings_of(sessions, [message_id]))[message_id]
            if standing.status != MessageStatus.SENDING or standing.accepted:
                return standing


def _ack_refusal(standing: Standing) -> AckOutcome | None:
    """Why an ack is not taken, or ``None`` when it is: only for a message the provider
    accepted, and not once it has finished."""
    if standing.status == MessageStatus.DELIVERED:
        return AckOutcome.ALREADY_DELIVERED
    if standing.status not in ACKABLE_STATUSES or not standing.accepted:
        return AckOutcome.NOT_ACKNOWLEDGEABLE
    return None


async def act_on_each(
    sessions: SessionFactory,
    ids: Sequence[uuid.UUID],
    act: Callable[[uuid.UUID, Standing | None], Awaitable[ActionResult[OutcomeT]]],
    action: str,
    actor: str,
    tenant_id: str | None = None,
) -> list[ActionResult[OutcomeT]]:
    """A result per distinct id, in the order first asked: ``act`` on each id with its
    standing (``None``: no such message, or not of ``tenant_id`` when given), a bounded
    number at once, each result logged as ``actor``'s ``action``."""
    ids = list(dict.fromkeys(ids))
    standings = await standings_of(sessions, ids, tenant_id)

    async def one(message_id: uuid.UUID) -> ActionResult[OutcomeT]:
        result = await act(message_id, standings.get(message_id))
        log_action(action, actor, result)
        return result

    return await map_bounded(one, ids, MAX_CONCURRENT_CALLS)


async def acknowledge(
    sessions: SessionFactory, workflows: WorkflowGateway, ids: Sequence[uuid.UUID], actor: str
) -> list[AckResult]:
    """A result per distinct id, in the order first asked, for a message of any tenant (the
    gateway delivers for all of them); ``actor`` is who acks, for the log."""

    async def acknowledge_one(message_id: uuid.UUID, standing: Standing | None) -> AckResult:
        if standing is None:
            return AckResult(id=message_id, outcome=AckOutcome.NOT_FOUND)
        if standing.status == MessageStatus.SENDING and not standing.accepted:
            try:
                standing = await settled_standing(sessions, message_id)
            except TimeoutError:
                raise ServiceUnavailable(
                    f"message {message_id} has an attempt in flight; nothing was changed, "
                    "send the ack again"
                ) from None
        refusal = _ack_refusal(standing)
        if refusal is None and await workflows.acknowledge(str(message_id)):
            return AckResult(id=message_id, outcome=AckOutcome.ACKNOWLEDGED, status=standing.status)
        if refusal is None:  # the workflow finished meanwhile: answer from its final status
            standing = (await standings_of(sessions, [message_id]))[message_id]
            refusal = _ack_refusal(standing) or AckOutcome.NOT_ACKNOWLEDGEABLE
        return AckResult(id=message_id, outcome=refusal, status=standing.status)

    return await act_on_each(sessions, ids, acknowledge_one, "acknowledge", actor)


DONE = {
    DeadLetterAction.REQUEUE: DeadLetterOutcome.REQUEUED,
    DeadLetterAction.DISCARD: DeadLetterOutcome.DISCARDED,
}


async def resolve_dead_letters(
    sessions: SessionFactory,
    workflows: WorkflowGateway,
    ids: Sequence[uuid.UUID],
    action: DeadLetterAction,
    principal: Principal,
) -> list[DeadLetterResult]:
    """A result per distinct id, in the order first asked; another tenant's dead letter is
    ``not_found`` unless ``principal`` is an admin."""

    async def resolve_one(message_id: uuid.UUID, standing: Standing | None) -> DeadLetterResult:
        if standing is None:
            return DeadLetterResult(id=message_id, outcome=DeadLetterOutcome.NOT_FOUND)
        status = standing.status
        if status == MessageStatus.DEAD_LETTERED:
            new_status = await workflows.resolve_dead_letter(str(message_id), action)
            if new_status is not None:
                return DeadLetterResult(id=message_id, outcome=DONE[action], status=new_status)
            status = (await standings_of(sessions, [message_id]))[message_id].status
            if status == MessageStatus.DISCARDED and action == DeadLetterAction.DISCARD:
                # Its workflow finished under the update (a signal came as it did): the
                # answer was lost, but the message is discarded, as asked.
                return DeadLetterResult(id=message_id, outcome=DONE[action], status=status)
        return DeadLetterResult(
            id=message_id, outcome=DeadLetterOutcome.NOT_DEAD_LETTERED, status=status
        )

    tenant_id = principal.tenant_to_list(None)
    return await act_on_each(sessions, ids, resolve_one, action.value, principal.key_id, tenant_id)


REFUSALS = {
    AckOutcome.NOT_ACKNOWLEDGEABLE,
    DeadLetterOutcome.NOT_DEAD_LETTERED,
    CancelOutcome.NOT_CANCELABLE,
}
NOT_FOUND = {AckOutcome.NOT_FOUND, DeadLetterOutcome.NOT_FOUND, CancelOutcome.NOT_FOUND}


def log_action(action: str, actor: str, result: ActionResult[OutcomeT]) -> None:
    """Who did what to which message, and what came of it (the key's id, never the key)."""
    log.info(
        "operator action",
        extra={
            "action": action,
            "key_id": actor,
            "message_id": str(result.id),
            "outcome": result.outcome.value,
            "status": result.status.value if result.status is not None else None,
        },
    )


def raise_for_refusal(result: ActionResult[OutcomeT], allowed: str) -> ActionResult[OutcomeT]:
    """For single-message routes: 404 for an unknown id, 409 (with the current status) when
    its status does not allow the action; ``allowed`` names the statuses that do."""
    if result.outcome in NOT_FOUND:
        raise NotFound(f"there is no message {result.id}")
    if result.outcome in REFUSALS:
        raise Conflict(
            f"message {result.id} is {result.status}; only {allowed} messages allow this",
            extensions={"current_status": result.status},
        )
    return result
