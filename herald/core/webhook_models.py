"""Outcome webhooks' entities (DESIGN §11): a tenant's endpoints, and one send per event per
endpoint, with what became of its attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from herald.core.egress import WebhookTarget
from herald.core.models import TENANT_ID_PATTERN, stored_as_text, utcnow
from herald.core.outcomes import OutcomeEvent, WebhookSendState
from herald.core.text import PRINTABLE_TEXT_PATTERN, refuse_control_characters

__all__ = [
    "MAX_URL_LENGTH",
    "WebhookEndpoint",
    "WebhookEndpointCreate",
    "WebhookEndpointCreated",
    "WebhookEndpointDetail",
    "WebhookEndpointPublic",
    "WebhookSend",
    "WebhookSendPublic",
    "WebhookSendState",
    "WebhookSendToEndpoint",
]

MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500


def _timestamp(*, nullable: bool = True) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True)))
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class WebhookEndpoint(SQLModel, table=True):
    """Where a tenant wants its messages' outcomes POSTed, and which ones. Deleting one
    keeps the row (``deleted_at``), so its sends keep their endpoint for audit."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant_id", "tenant_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40)
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    """``whsec_<base64>``: Herald signs with it, so it is kept as it is (not hashed)."""
    created_at: datetime = _timestamp(nullable=False)
    deleted_at: datetime | None = _timestamp()


class WebhookSend(SQLModel, table=True):
    """One event for one endpoint: the body as it was when the event happened, and its
    attempts. ``event_id`` is the ``webhook-id`` header, the same on every attempt."""

    __tablename__ = "webhook_sends"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_sends_event_id_endpoint_id"),
        Index("ix_webhook_sends_endpoint_id_created_at", "endpoint_id", "created_at"),
        Index("ix_webhook_sends_created_at", "created_at"),
        Index("ix_webhook_sends_message_id_created_at", "message_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id")
    message_id: uuid.UUID
    event_type: OutcomeEvent = Field(sa_type=stored_as_text(OutcomeEvent, 32))
    body: str = Field(sa_column=Column(Text, nullable=False))
    """The JSON POSTed, byte for byte on every attempt: ``{type, timestamp, data}``."""
    state: WebhookSendState = Field(
        default=WebhookSendState.PENDING, sa_type=stored_as_text(WebhookSendState, 16)
    )
    attempts: int = 0
    last_status: int | None = None
    """The HTTP status of the last answer; ``None`` when there was none."""
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _timestamp(nullable=False)
    last_attempt_at: datetime | None = _timestamp()
    next_attempt_at: datetime | None = _timestamp()
    finished_at: datetime | None = _timestamp()


def _valid_url(url: str) -> str:
    refuse_control_characters(url)
    WebhookTarget(url)  # raises a ValueError saying what is wrong
    return url


WebhookUrl = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_LENGTH, pattern=r"^https?://[^\s]+$"),
    AfterValidator(_valid_url),
    PydanticField(
        description="`http` or `https`, without credentials or fragment; its host must "
        "resolve to public addresses only (unless `HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`)"
    ),
]

Description = Annotated[
    str,
    StringConstraints(max_length=MAX_DESCRIPTION_LENGTH),
    AfterValidator(refuse_control_characters),
    PydanticField(json_schema_extra={"pattern": PRINTABLE_TEXT_PATTERN}),
]


def _in_canonical_order(events: list[OutcomeEvent]) -> list[OutcomeEvent]:
    """Each event once, in the order of :class:`OutcomeEvent`."""
    return [event for event in OutcomeEvent if event in events]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    events: (
        Annotated[
            list[OutcomeEvent],
            PydanticField(min_length=1, max_length=len(OutcomeEvent) * 2),
            AfterValidator(_in_canonical_order),
        ]
        | None
    ) = PydanticField(default=None, description="The events to receive; every one when left out")
    description: Description | None = None
    tenant_id: str | None = PydanticField(
        default=None,
        pattern=TENANT_ID_PATTERN,
        description="The tenant whose messages' outcomes to receive: an admin key's choice "
        "(`default` when left out); any other key registers for its own tenant and may name "
        "only that one",
    )


class WebhookEndpointPublic(BaseModel):
    """An endpoint as listings show it: never its secret."""

    id: uuid.UUID
    tenant_id: str
    url: str
    events: list[OutcomeEvent]
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
        return cls.model_validate(endpoint, from_attributes=True)


class WebhookEndpointCreated(WebhookEndpointPublic):
    """A new endpoint with its signing secret: shown in this answer only."""

    secret: str = PydanticField(
        description="`whsec_<base64>`: verify each request's `webhook-signature` with it "
        "(Standard Webhooks); shown this once"
    )


class WebhookSendPublic(BaseModel):
    """One event's send to an endpoint, and how its attempts went."""

    id: uuid.UUID
    event_id: uuid.UUID = PydanticField(description="The `webhook-id` header of every attempt")
    message_id: uuid.UUID
    event_type: OutcomeEvent
    state: WebhookSendState
    attempts: int
    last_status: int | None = PydanticField(description="HTTP status of the last answer")
    last_error: str | None
    created_at: datetime = PydanticField(description="When the event happened")
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = PydanticField(
        description="When a pending send is tried next, if it failed before"
    )
    finished_at: datetime | None = PydanticField(description="When it was delivered or given up")

    @classmethod
    def of(cls, send: WebhookSend) -> WebhookSendPublic:
        return cls.model_validate(send, from_attributes=True)


class WebhookEndpointDetail(WebhookEndpointPublic):
    failing_sends: list[WebhookSendPublic] = PydanticField(
        description="Its most recent sends that failed: given up (`failed`), or `pending` "
        "after a failed attempt; newest first"
    )


class WebhookSendToEndpoint(WebhookSendPublic):
    """One outcome event of a message sent (or being sent) to one of its tenant's endpoints."""

    endpoint_id: uuid.UUID
    endpoint_url: str = PydanticField(description="Where it is POSTed")
    endpoint_deleted: bool = PydanticField(description="The endpoint was deleted since")
