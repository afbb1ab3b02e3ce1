"""Request and response bodies beyond the message model family."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Generic, Literal

from pydantic import BaseModel, ConfigDict, Field

from herald.core.contract import MessageStatus, Priority
from herald.core.models import (
    AttemptPublic,
    CircuitBreakerState,
    MessageCreate,
    MessagePublic,
    SuppressionPublic,
    tenant_choice,
)
from herald.core.scopes import Scope
from herald.core.webhook_models import WebhookSendToEndpoint
from herald.operations.actions import (
    AckOutcome,
    AckResult,
    ActionResult,
    CancelOutcome,
    CancelResult,
    DeadLetterOutcome,
    DeadLetterResult,
    OutcomeT,
)

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "AckOutcome",
    "AckResult",
    "ActionResult",
    "ActionResults",
    "AttemptList",
    "BatchItem",
    "BatchItemResult",
    "BatchRequest",
    "BatchResult",
    "Caller",
    "CancelOutcome",
    "CancelResult",
    "CircuitBreakerList",
    "CircuitBreakerPublic",
    "DeadLetterOutcome",
    "DeadLetterResult",
    "MessageIds",
    "MessagePage",
    "MetricsSummaryPublic",
    "Readiness",
    "SuppressionPage",
    "WebhookSendList",
]

MAX_IDS_PER_CALL = 1000
MAX_IDEMPOTENCY_KEY_LENGTH = 255
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"
"""Printable ASCII without spaces, as an ``Idempotency-Key`` header or a batch item's key."""


class MessagePage(BaseModel):
    items: list[MessagePublic]
    total: int
    page: int
    page_size: int


class SuppressionPage(BaseModel):
    items: list[SuppressionPublic]
    total: int
    page: int
    page_size: int


class AttemptList(BaseModel):
    """Every attempt of the message, oldest first."""

    items: list[AttemptPublic]


class WebhookSendList(BaseModel):
    """Every send of a message's outcome events, oldest first."""

    items: list[WebhookSendToEndpoint]


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


class BatchItem(MessageCreate):
    """One message of a batch: a submit's body and, optionally, its own idempotency key."""

    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="As the `Idempotency-Key` header of a single submit; generated when absent",
    )


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[BatchItem] = Field(
        min_length=1, description="At least one and at most `HERALD_BATCH_SIZE_LIMIT` items"
    )
    tenant_id: str | None = tenant_choice()


class BatchItemResult(BaseModel):
    """What became of one item: stored (or replayed) with its message's id and status, or
    refused with an ``error`` (nothing stored for it)."""

    index: int = Field(description="Position of the item in `messages`, from 0")
    id: uuid.UUID | None
    status: MessageStatus | None = Field(
        description="`queued`, or `pending` when its workflow starts later; a replay's "
        "current status"
    )
    replayed: bool = Field(
        default=False, description="Its key already stored this item's message: nothing new"
    )
    error: str | None = None


class BatchResult(BaseModel):
    """A result per item, in the order submitted; one refused item does not fail the others."""

    total: int
    succeeded: int
    failed: int
    results: list[BatchItemResult]


class Readiness(BaseModel):
    """Every dependency answered in time."""

    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(description="Each dependency checked: `ok`")


class MetricsSummaryPublic(BaseModel):
    """The system's numbers from PostgreSQL, the same from every API process. Windowed ones
    cover the last `window_seconds` (`HERALD_METRICS_WINDOW_SECONDS`); a message *settled* in
    the window was delivered (`delivered_at` in it) or dead-lettered (and not changed since)
    in it."""

    window_seconds: float
    delivered: int = Field(description="Messages delivered in the window")
    dead_lettered: int = Field(description="Messages dead-lettered in the window")
    messages_per_second: float = Field(description="`delivered` ÷ `window_seconds`")
    average_processing_time_ms: float | None = Field(
        description="Mean submit-to-acknowledgment time of the messages delivered in the "
        "window; null when none were"
    )
    queue_depth: dict[Priority, int] = Field(
        description="Messages under way now (`pending`, `queued`, `sending`, `retrying`, "
        "`awaiting_ack`), by priority"
    )
    retry_rate: float = Field(
        description="Share of delivery attempts that were retries, among the messages settled "
        "in the window: sum(retry_count) ÷ sum(retry_count + 1)"
    )
    failure_rate: float = Field(
        description="`dead_lettered` ÷ (`delivered` + `dead_lettered`); 0 when none settled"
    )
    circuit_breaker_state: dict[str, CircuitBreakerState] = Field(
        description="Each provider's breaker state now"
    )


class Caller(BaseModel):
    """The API key that asks: its tenant and what it may do."""

    key_id: str = Field(description="The key's id (a bootstrap key's: `bootstrap-` and a hash)")
    tenant_id: str
    scopes: list[Scope] = Field(description="`admin` allows everything, for every tenant")
    temporal_ui_url: str | None = Field(
        description="The Temporal Web UI (`HERALD_TEMPORAL_UI_URL`), where each message is the "
        "workflow `message-<id>`: admin keys only (the UI shows every tenant's workflows); "
        "null for other keys, or when not configured"
    )
    temporal_namespace: str = Field(description="Herald's Temporal namespace")
