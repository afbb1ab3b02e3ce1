"""Request and response bodies beyond the message model family."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from herald.core.contract import MessageStatus
from herald.core.models import MessagePublic

__all__ = ["AckBatch", "AckBatchResult", "AckOutcome", "AckResult", "MessagePage"]

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


class AckResult(BaseModel):
    id: uuid.UUID
    outcome: AckOutcome
    status: MessageStatus | None = Field(
        default=None, description="The message's status when the ack was taken"
    )


class AckBatch(BaseModel):
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_IDS_PER_CALL)


class AckBatchResult(BaseModel):
    results: list[AckResult]
