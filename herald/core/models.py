"""The ``messages`` entity: one model family (Base / table / Create / Public)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, DateTime, Enum, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from herald.core.contract import (
    DEFAULT_TENANT,
    TERMINAL_STATUSES,
    FailureClass,
    MessageStatus,
    Priority,
)
from herald.core.scopes import Scope
from herald.core.text import (
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_LENGTH,
    METADATA_JSON_SCHEMA,
    PRINTABLE_TEXT_PATTERN,
    check_metadata,
    refuse_control_characters,
)

__all__ = [
    "DEFAULT_WEIGHT",
    "E164",
    "FINISHED_SQL",
    "TENANT_ID_PATTERN",
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "Attempt",
    "AttemptOutcome",
    "AttemptPublic",
    "CircuitBreaker",
    "CircuitBreakerState",
    "E164Query",
    "IdempotencyKey",
    "Message",
    "MessageCreate",
    "MessagePublic",
    "MessageSubmit",
    "RateBucket",
    "RecipientSequence",
    "Suppression",
    "SuppressionCreate",
    "SuppressionPublic",
    "Tenant",
    "TenantCreate",
    "TenantPublic",
    "utcnow",
]

MAX_CONTENT_LENGTH = 1600


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_e164(value: str) -> str:
    """Accept only a valid phone number written in E.164 (``+`` and country code)."""
    if not value.startswith("+"):
        raise ValueError("recipient must be in E.164 form, starting with + and a country code")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as err:
        raise ValueError(f"recipient is not a phone number: {err}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("recipient is not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
E164_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": E164_PATTERN,
        "description": "A phone number in E.164 form, e.g. `+14155550123`; spaces, dots, "
        "dashes and parentheses are accepted too, and removed",
    }
)
E164 = Annotated[str, AfterValidator(normalize_e164), E164_SCHEMA]


def _plus_read_as_space(value: object) -> object:
    """In a query string an unencoded ``+`` is a space: ``?recipient=+1415...`` arrives as
    `` 1415...``. A number cannot start with a space, so it is read as the ``+``."""
    if isinstance(value, str) and value[:1] == " " and value.strip()[:1].isdigit():
        return "+" + value.strip()
    return value


E164Query = Annotated[
    str, BeforeValidator(_plus_read_as_space), AfterValidator(normalize_e164), E164_SCHEMA
]
"""A number in a query parameter, where people leave the ``+`` unencoded."""


def stored_as_text(enum: type[StrEnum], length: int) -> Enum:
    """A VARCHAR column that loads as the enum (values, not names, are stored)."""
    return Enum(
        enum,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


def _optional_timestamp() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True)))


class MessageBase(SQLModel):
    recipient: str = Field(max_length=16)
    content: str = Field(min_length=1, max_length=MAX_CONTENT_LENGTH)
    priority: Priority = Field(default=Priority.NORMAL, sa_type=stored_as_text(Priority, 8))


FINISHED_SQL = "status IN ({})".format(
    ", ".join(sorted(f"'{status.value}'" for status in TERMINAL_STATUSES))
)
"""The condition of a finished message in SQL: the partial index housekeeping reads, and
its query, which must name the statuses literally for the planner to use that index."""


class Message(MessageBase, table=True):
    """System of record for a message; activities keep it current at every transition."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_status_next_retry_at", "status", "next_retry_at"),
        Index("ix_messages_recipient_created_at", "recipient", "created_at"),
        Index("ix_messages_tenant_id_created_at", "tenant_id", "created_at"),
        Index(
            "ix_messages_delivered_at",
            "delivered_at",
            postgresql_where=text("delivered_at IS NOT NULL"),
        ),
        Index(
            "ix_messages_finished_updated_at",
            "updated_at",
            postgresql_where=text(FINISHED_SQL),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(default=DEFAULT_TENANT, foreign_key="tenants.id", max_length=40)
    content: str = Field(sa_column=Column(Text, nullable=False))
    status: MessageStatus = Field(
        default=MessageStatus.PENDING, sa_type=stored_as_text(MessageStatus, 16)
    )
    idempotency_key: str = Field(max_length=255, index=True)
    """The client's key (or the message id); uniqueness within the TTL lives in
    ``idempotency_keys``, so a key is free again once it expires."""
    ordering: str = Field(default="best_effort", max_length=16)
    sequence_number: int | None = None
    retry_count: int = 0
    next_retry_at: datetime | None = _optional_timestamp()
    last_retry_at: datetime | None = _optional_timestamp()
    delivered_at: datetime | None = _optional_timestamp()
    failure_reason: str | None = Field(default=None, sa_column=Column(Text))
    failure_class: FailureClass | None = Field(
        default=None, sa_type=stored_as_text(FailureClass, 16)
    )
    provider_message_id: str | None = Field(default=None, max_length=255)
    send_at: datetime | None = _optional_timestamp()
    """Not sent before this (a scheduled message); ``None``: at once."""
    accepted_at: datetime | None = _optional_timestamp()
    """When the provider last accepted an attempt (2xx): only then is an ack taken."""
    line_released_at: datetime | None = _optional_timestamp()
    """When this strict message, dead-lettered, let its recipient's line go on without it;
    requeued, it is then sent on its own, outside the line's order."""
    start_attempts: int = 0
    """Refused workflow starts of a ``pending`` message (the outbox relay backs off)."""
    next_start_at: datetime | None = _optional_timestamp()
    """When the outbox relay may start a ``pending`` message: once the request that stored it
    has had its time to (``starting_window``), and later after each refused start."""
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSONB))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


Metadata = Annotated[
    dict[str, str], BeforeValidator(check_metadata), WithJsonSchema(METADATA_JSON_SCHEMA)
]
"""Bounded as :func:`check_metadata` says, with one error for the first fault."""


class MessageCreate(BaseModel):
    """What a client submits. Unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    recipient: E164
    content: Annotated[
        str,
        PydanticField(
            min_length=1,
            max_length=MAX_CONTENT_LENGTH,
            json_schema_extra={"pattern": PRINTABLE_TEXT_PATTERN},
        ),
        AfterValidator(refuse_control_characters),
    ]
    priority: Priority = Priority.NORMAL
    ordering: Literal["best_effort", "strict"] | None = None
    send_at: AwareDatetime | None = PydanticField(
        default=None,
        description="Send no earlier than this (RFC 3339 with an offset): in the future and "
        "at most `HERALD_MAX_SCHEDULE_DAYS` ahead; not with `ordering: strict`",
    )
    metadata: Metadata | None = PydanticField(
        default=None,
        description=f"Up to {MAX_METADATA_KEYS} keys of 1 to {MAX_METADATA_KEY_LENGTH} "
        f"characters, each with a string of up to {MAX_METADATA_VALUE_LENGTH}",
    )


TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"


def tenant_choice() -> Any:
    """The optional ``tenant_id`` of a submit (one message, or a whole batch)."""
    return PydanticField(
        default=None,
        pattern=TENANT_ID_PATTERN,
        description="The tenant to submit for: an admin key's choice (`default` when left "
        "out); any other key submits for its own tenant and may name only that one",
    )


class MessageSubmit(MessageCreate):
    """The body of a single submit: the message, and for whom."""

    tenant_id: str | None = tenant_choice()


class MessagePublic(BaseModel):
    """What the API answers for a message (DESIGN §4)."""

    id: uuid.UUID
    tenant_id: str
    recipient: str = PydanticField(json_schema_extra={"pattern": E164_PATTERN})
    content: str
    priority: Priority
    status: MessageStatus
    idempotency_key: str
    ordering: str
    sequence_number: int | None
    retry_count: int
    next_retry_at: datetime | None
    last_retry_at: datetime | None
    delivered_at: datetime | None
    failure_reason: str | None
    failure_class: FailureClass | None
    provider_message_id: str | None
    send_at: datetime | None = PydanticField(description="Not sent before this, if set")
    accepted_at: datetime | None = PydanticField(
        description="When the provider last accepted an attempt; acks are taken only after one"
    )
    line_released_at: datetime | None = PydanticField(
        description="Strict messages: when this dead letter let its line go on without it; "
        "a requeue then sends it on its own, out of its line's order"
    )
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessagePublic:
        fields = message.model_dump(exclude={"meta", "start_attempts", "next_start_at"})
        return cls(**fields, metadata=message.meta)


class IdempotencyKey(SQLModel, table=True):
    """A client's ``Idempotency-Key``, claimed for one message of its tenant until
    ``expires_at``: two tenants using one key get two messages."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("ix_idempotency_keys_expires_at", "expires_at"),
        Index("ix_idempotency_keys_message_id", "message_id"),
    )

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    """SHA-256 of the validated request body: the same key with another body is refused."""
    message_id: uuid.UUID = Field(foreign_key="messages.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CircuitBreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker(SQLModel, table=True):
    """One provider's breaker, shared by every worker and kept across restarts."""

    __tablename__ = "circuit_breakers"

    provider: str = Field(primary_key=True, max_length=64)
    state: CircuitBreakerState = Field(
        default=CircuitBreakerState.CLOSED, sa_type=stored_as_text(CircuitBreakerState, 16)
    )
    outcomes: str = Field(default="", max_length=1000)
    """The most recent attempts, oldest first: ``S`` success, ``F`` transient failure."""
    opened_at: datetime | None = _optional_timestamp()
    probe_started_at: datetime | None = _optional_timestamp()
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class RecipientSequence(SQLModel, table=True):
    """The last sequence number a tenant gave to a recipient's strictly ordered messages
    (each tenant has its own line to a recipient)."""

    __tablename__ = "recipient_sequences"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    recipient: str = Field(primary_key=True, max_length=16)
    last_sequence_number: int = Field(default=0, sa_type=BigInteger)


DEFAULT_WEIGHT = 1.0


class TenantBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    rate_limit_per_second: float | None = Field(default=None, ge=0.001, le=1_000_000)
    """Submits a second on average; ``None``: ``HERALD_RATE_LIMIT_PER_SECOND``."""
    rate_limit_burst: int | None = Field(default=None, ge=1, le=1_000_000)
    """Submits at once; ``None``: ``HERALD_RATE_LIMIT_BURST``."""
    weight: float = Field(default=DEFAULT_WEIGHT, ge=0.01, le=100)
    """Share of delivery capacity against other tenants, within each priority."""


class Tenant(TenantBase, table=True):
    """A submitter sharing the deployment: its messages, keys and limits are its own."""

    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


TenantId = Annotated[
    str,
    StringConstraints(pattern=TENANT_ID_PATTERN, max_length=40),
    PydanticField(
        description="A slug: lowercase letters, digits and dashes, starting with a letter or "
        "digit; at most 40 characters"
    ),
]


DisplayName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(refuse_control_characters),
    PydanticField(json_schema_extra={"pattern": PRINTABLE_TEXT_PATTERN}),
]
"""A name people read in listings: no control characters."""


class TenantCreate(TenantBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    id: TenantId
    name: DisplayName


class TenantPublic(TenantBase):
    id: str
    created_at: datetime


class ApiKey(SQLModel, table=True):
    """A tenant's API key: stored only as the SHA-256 of the token (shown once, at creation),
    with a short ``prefix`` to recognise it in listings."""

    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=40, index=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    revoked_at: datetime | None = _optional_timestamp()


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: TenantId
    name: DisplayName
    scopes: list[Scope] = PydanticField(min_length=1, max_length=len(Scope))


class ApiKeyPublic(BaseModel):
    """A key as listings show it: never the key itself."""

    id: uuid.UUID
    tenant_id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    """A new key, with the key itself: shown this once, stored only as a hash."""

    key: str


class AttemptOutcome(StrEnum):
    ACCEPTED = "accepted"
    """The provider answered 2xx."""
    FAILED = "failed"
    DEFERRED = "deferred"
    """The provider (429 with ``Retry-After``) or the circuit breaker asked to come back."""
    ACK_TIMEOUT = "ack_timeout"
    """Accepted, but no acknowledgment came in time."""


class Attempt(SQLModel, table=True):
    """One delivery attempt, written as it ends: the history an activity's retries do not
    keep in Temporal."""

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_message_id_id", "message_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    message_id: uuid.UUID = Field(foreign_key="messages.id")
    attempt: int
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    outcome: AttemptOutcome = Field(sa_type=stored_as_text(AttemptOutcome, 16))
    http_status: int | None = None
    duration_ms: int
    provider_message_id: str | None = Field(default=None, max_length=255)
    failure_class: FailureClass | None = Field(
        default=None, sa_type=stored_as_text(FailureClass, 16)
    )
    failure_reason: str | None = Field(default=None, sa_column=Column(Text))


class AttemptPublic(BaseModel):
    attempt: int = PydanticField(description="Its number, from 1 (again from 1 after a requeue)")
    started_at: datetime
    finished_at: datetime
    outcome: AttemptOutcome
    http_status: int | None = PydanticField(description="The provider's answer, if it gave one")
    duration_ms: int
    provider_message_id: str | None
    failure_class: FailureClass | None
    failure_reason: str | None


class Suppression(SQLModel, table=True):
    """A recipient a tenant must not message (an opt-out): its messages end ``suppressed``."""

    __tablename__ = "suppressions"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    recipient: str = Field(primary_key=True, max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DisplayName | None = None


class SuppressionPublic(BaseModel):
    tenant_id: str
    recipient: str = PydanticField(json_schema_extra={"pattern": E164_PATTERN})
    reason: str | None
    created_at: datetime


class RateBucket(SQLModel, table=True):
    """A tenant's token bucket, shared by every API process (DESIGN §10)."""

    __tablename__ = "rate_buckets"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=40)
    bucket: str = Field(primary_key=True, max_length=16)
    """``normal`` (every priority but high) or ``high``."""
    tokens: float
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
