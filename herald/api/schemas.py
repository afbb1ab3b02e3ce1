"""Request and response bodies beyond the message model family."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from herald.core.contract import MessageStatus
from herald.core.models import CircuitBreakerState, MessagePublic

__all__ = [
    "AckOutcome",
    "AckResult",
    "ActionResult",
    "ActionResults",
    "CircuitBreakerList",
    "CircuitBreakerPublic",
    "DeadLetterOutcome",
    "DeadLetterResult",
    "MessageIds",
    "MessagePage",
]

MAX_IDS_PER_CALL = 1000


class MessagePage(BaseModel):
    items: list[MessagePublic]
    total: int
    page: int
    page_size: int


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


OutcomeT = TypeVar("OutcomeT", AckOutcome, DeadLetterOutcome)


class ActionResult(BaseModel, Generic[OutcomeT]):
    """What one action on one message did."""

    id: uuid.UUID
    outcome: OutcomeT
    status: MessageStatus | None = Field(
        default=None, description="The message's status after the action (none if unknown)"
    )


AckResult = ActionResult[AckOutcome]
DeadLetterResult = ActionResult[DeadLetterOutcome]


class MessageIds(BaseModel):
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_IDS_PER_CALL)


class ActionResults(BaseModel, Generic[OutcomeT]):
    """A result per id, in the order asked; one failure does not fail the others."""

    results: list[ActionResult[OutcomeT]]


class CircuitBreakerPublic(BaseModel):
    """One provider's circuit breaker as it stands now."""

    provider: str
    state: CircuitBreakerState = Field(
        description="Effective state: an open breaker whose timeout has passed is half_open"
    )
    failure_rate: float = Field(
        description="Share of transient failures among the recorded attempts (`samples`)"
    )
    samples: int = Field(description="Attempts in the window, at most `sample_size`")
    sample_size: int
    opened_at: datetime | None
    half_open_at: datetime | None = Field(
        description="When the open breaker lets a probe through (opened_at + open timeout)"
    )


class CircuitBreakerList(BaseModel):
    items: list[CircuitBreakerPublic]
