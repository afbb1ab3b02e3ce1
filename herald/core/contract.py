"""The sandbox-safe contract between the API, workflows and activities.

Nothing here does I/O or reads settings, so workflow code may import it: statuses, priorities,
failure classes, the dataclasses that cross Temporal, and the retry maths (DESIGN §2).
"""

# No ``from __future__ import annotations``: the Temporal data converter reads these
# dataclasses' type hints on every conversion, and string annotations would be evaluated
# each time (about four times the cost).

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "ACKABLE_STATUSES",
    "CHANGEABLE_STATUSES",
    "DEFAULT_TENANT",
    "TERMINAL_STATUSES",
    "AttemptRequest",
    "AttemptResult",
    "DeadLetterAction",
    "DeliveryJob",
    "DeliveryPolicy",
    "FailureClass",
    "Line",
    "MessageStatus",
    "Priority",
    "PriorityChange",
    "Reprioritized",
    "SequenceState",
    "Transition",
    "workflow_id_for",
]


DEFAULT_TENANT = "default"
"""The tenant of ``HERALD_API_KEYS`` (bootstrap admin keys) and of messages stored before
tenants existed."""


class MessageStatus(StrEnum):
    """The lifecycle of DESIGN §2 and §12."""

    SCHEDULED = "scheduled"
    """Its ``send_at`` has not come yet; never sent before it."""
    PENDING = "pending"
    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    AWAITING_ACK = "awaiting_ack"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    DISCARDED = "discarded"
    EXPIRED = "expired"
    CANCELED = "canceled"
    """Canceled by its submitter before the provider accepted it; never sent afterwards."""
    SUPPRESSED = "suppressed"
    """Its recipient is on the tenant's suppression list; never sent."""


CHANGEABLE_STATUSES = frozenset(
    {MessageStatus.SCHEDULED, MessageStatus.PENDING, MessageStatus.QUEUED, MessageStatus.RETRYING}
)
"""Not yet with the provider: a message in these can be canceled or change priority."""

TERMINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.DISCARDED,
        MessageStatus.EXPIRED,
        MessageStatus.CANCELED,
        MessageStatus.SUPPRESSED,
    }
)
ACKABLE_STATUSES = frozenset(
    {
        MessageStatus.SENDING,
        MessageStatus.AWAITING_ACK,
        MessageStatus.RETRYING,
        MessageStatus.DEAD_LETTERED,
    }
)
"""The statuses in which an ack is taken, for a message the provider accepted at some
attempt: the gateway's word wins, so a late ack delivers a message that is retrying or
already in the dead-letter queue."""


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def task_priority_key(self) -> int:
        """Temporal priority key: lower runs first (DESIGN §7)."""
        return {Priority.HIGH: 1, Priority.NORMAL: 3, Priority.LOW: 5}[self]

    @property
    def fairness_weight(self) -> float:
        """Share of delivery capacity under a backlog: high 10, normal 5, low 1."""
        return {Priority.HIGH: 10.0, Priority.NORMAL: 5.0, Priority.LOW: 1.0}[self]


class FailureClass(StrEnum):
    TRANSIENT = "transient"
    """Retried with backoff; spends the retry budget."""
    RECOVERABLE = "recoverable"
    """Waits as long as the provider (or the circuit breaker) says; spends nothing."""
    PERMANENT = "permanent"
    """Dead-lettered at once."""
    EXPIRED = "expired"
    """The message's validity passed before it could be delivered."""


class DeadLetterAction(StrEnum):
    """What an operator may do with a dead-lettered message."""

    REQUEUE = "requeue"
    DISCARD = "discard"


def workflow_id_for(message_id: str) -> str:
    """The workflow id is derived from the message id, so starting twice is harmless."""
    return f"message-{message_id}"


@dataclass(frozen=True)
class Line:
    """A tenant's strict line to one recipient (each tenant has its own)."""

    tenant_id: str
    recipient: str

    @property
    def workflow_id(self) -> str:
        """``recipient-<tenant>-<E.164>`` (unambiguous: an E.164 number starts with ``+``)."""
        return f"recipient-{self.tenant_id}-{self.recipient}"


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry and acknowledgment rules, fixed when the message is submitted."""

    max_retries: int
    base_retry_delay_seconds: float
    max_retry_delay_seconds: float
    ack_timeout_seconds: float
    attempt_timeout_seconds: float
    validity_seconds: float
    """How long after submit (or requeue) delivery may still be tried."""
    dead_letter_retention_seconds: float
    """How long a dead letter waits for an operator before it expires."""
    hold_line_on_dead_letter: bool = False
    """A dead-lettered strict message keeps its recipient's line waiting until it is
    requeued and delivered, discarded or expired; by default it releases the line."""

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def retry_delay(self, retry_index: int) -> timedelta:
        """Delay before retry ``retry_index`` (0-based): ``min(base * 2**n, max)``."""
        seconds = min(self.base_retry_delay_seconds * 2**retry_index, self.max_retry_delay_seconds)
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class DeliveryJob:
    """Input of the ``MessageDelivery`` workflow: ids and routing data, never the content."""

    message_id: str
    recipient: str
    priority: Priority
    policy: DeliveryPolicy
    expires_at: datetime
    """When the message is no longer worth sending (an ISO 8601 time in the history)."""
    sequence_number: int | None = None
    """Set for strictly ordered messages: their place in the recipient's line."""
    waits_for_turn: bool = False
    """A strict message behind others: it waits for its line's ``take_turn`` signal (or
    its validity to pass) before its first attempt."""
    tenant_id: str = DEFAULT_TENANT
    tenant_weight: float = 1.0
    """The tenant's share of capacity against other tenants, fixed at submit."""
    send_at: datetime | None = None
    """Before this, a scheduled message is not sent."""

    @property
    def line(self) -> Line:
        return Line(self.tenant_id, self.recipient)


@dataclass(frozen=True)
class SequenceState:
    """Input of a ``RecipientSequence`` run; carried across continue-as-new, so nothing the
    line holds is lost in the hand-over."""

    recipient: str
    history_limit: int
    """Continue as new once the history has this many events (every signal is one, so this
    also bounds the signals of a run, far below Temporal's per-run limit)."""
    tenant_id: str = DEFAULT_TENANT
    next_sequence_number: int | None = None
    """The line's head; ``None`` in a fresh run, which reads it from the database."""
    arrivals: list[DeliveryJob] = field(default_factory=list)
    """Enqueued messages whose workflows the line has not started yet."""
    members: dict[int, str] = field(default_factory=dict)
    """Sequence number → message id of the messages started and still in the line."""
    left: list[int] = field(default_factory=list)
    """Numbers past the head whose messages already left the line (expired while waiting)."""
    head_has_turn: bool = False
    """Whether the head has been given its turn."""

    @property
    def line(self) -> Line:
        return Line(self.tenant_id, self.recipient)


@dataclass(frozen=True)
class AttemptRequest:
    """Input of the ``deliver`` activity.

    ``attempts_before`` counts the attempts spent by earlier runs of the activity (an ack
    timeout re-sends through a new run), so attempt numbers and backoff continue across them.
    """

    message_id: str
    attempts_before: int
    policy: DeliveryPolicy


@dataclass(frozen=True)
class AttemptResult:
    """How overall attempt ``attempt`` (1-based) ended without a failure.

    Either the provider accepted the message, or (``retry_after_seconds`` set) it, or the
    circuit breaker, asked to come back later: a recoverable deferral that spends no budget;
    or (``settled`` set) the attempt found the message canceled or suppressed and sent nothing.
    """

    attempt: int
    provider_message_id: str | None = None
    retry_after_seconds: float | None = None
    settled: MessageStatus | None = None

    @property
    def deferred(self) -> bool:
        return self.retry_after_seconds is not None


@dataclass(frozen=True)
class Transition:
    """A status change decided by the workflow and written by the ``record_transition``
    activity. ``None`` fields are left as they are in the database."""

    message_id: str
    status: MessageStatus
    retry_count: int | None = None
    next_retry_in_seconds: float | None = None
    failure_reason: str | None = None
    failure_class: FailureClass | None = None
    released_from_line: bool = False
    """A dead-lettered strict message that let its line go on without it."""
    only_from: list[MessageStatus] | None = None
    """Written only if the message is in one of these statuses now (the database decides a
    race between, say, a cancel and an attempt starting); ``None``: whatever it is."""
    ack_timeout_attempt: int | None = None
    """The accepted attempt whose acknowledgment did not come in time."""
    priority: Priority | None = None


@dataclass(frozen=True)
class PriorityChange:
    """Input of the ``reprioritize`` activity."""

    message_id: str
    priority: Priority


@dataclass(frozen=True)
class Reprioritized:
    """What ``reprioritize`` did: ``applied`` while the message was not with the provider;
    the row's status, retry count and next retry then (the attempts a rescheduled delivery
    continues from)."""

    applied: bool
    status: MessageStatus
    retry_count: int = 0
    next_retry_at: datetime | None = None
