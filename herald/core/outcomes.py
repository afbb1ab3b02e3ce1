"""The sandbox-safe contract of outcome webhooks (DESIGN §11).

The events a message's outcome raises, the retry rules of a send, and the dataclasses that
cross Temporal: what recording a transition enqueued (``Recorded``) and the input of one
``WebhookSend`` workflow. Nothing here does I/O or reads settings, so workflow code may import
it. A send's payload is never in Temporal: the workflow carries the send's id, and the
activity loads the body from PostgreSQL.
"""

# No ``from __future__ import annotations``: the Temporal data converter reads these
# dataclasses' type hints on every conversion, and string annotations would be evaluated
# each time (about four times the cost).

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from herald.core.contract import MessageStatus

__all__ = [
    "OUTCOME_EVENTS",
    "OutcomeEvent",
    "Recorded",
    "SendGivenUp",
    "WebhookPolicy",
    "WebhookSendJob",
    "WebhookSendState",
    "webhook_task_queue",
    "webhook_workflow_id",
]


class OutcomeEvent(StrEnum):
    """What an endpoint subscribes to: a message reached one of these statuses."""

    DELIVERED = "message.delivered"
    DEAD_LETTERED = "message.dead_lettered"
    EXPIRED = "message.expired"
    DISCARDED = "message.discarded"
    CANCELED = "message.canceled"
    SUPPRESSED = "message.suppressed"


class WebhookSendState(StrEnum):
    PENDING = "pending"
    """Not sent yet, or failed and waiting for its next attempt (``next_attempt_at``)."""
    DELIVERED = "delivered"
    """The endpoint answered 2xx."""
    FAILED = "failed"
    """Given up: every attempt failed, or the endpoint may not be called (see
    ``last_error``)."""


OUTCOME_EVENTS: dict[MessageStatus, OutcomeEvent] = {
    MessageStatus.DELIVERED: OutcomeEvent.DELIVERED,
    MessageStatus.DEAD_LETTERED: OutcomeEvent.DEAD_LETTERED,
    MessageStatus.EXPIRED: OutcomeEvent.EXPIRED,
    MessageStatus.DISCARDED: OutcomeEvent.DISCARDED,
    MessageStatus.CANCELED: OutcomeEvent.CANCELED,
    MessageStatus.SUPPRESSED: OutcomeEvent.SUPPRESSED,
}
"""The statuses that raise an event, and the event each raises."""


@dataclass(frozen=True)
class WebhookPolicy:
    """How one send is tried: ``max_attempts`` POSTs at most, each bounded by
    ``timeout_seconds``, the n-th retry (0-based) after
    ``min(retry_base_seconds * 2**n, max_retry_delay_seconds)``."""

    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    max_retry_delay_seconds: float = 3600.0
    timeout_seconds: float = 10.0

    def retry_delay(self, retry_index: int) -> timedelta:
        seconds = min(self.retry_base_seconds * 2**retry_index, self.max_retry_delay_seconds)
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Recorded:
    """What writing a transition did: ``applied`` unless its ``only_from`` (or a message
    already finished) refused it; the message's status after it; and the outcome webhook
    sends it enqueued in the same transaction (their ids), which the message's workflow
    starts as children."""

    applied: bool
    status: MessageStatus
    webhook_sends: list[str] = field(default_factory=list)
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)


@dataclass(frozen=True)
class WebhookSendJob:
    """Input of the ``WebhookSend`` workflow: the send's id and its retry rules."""

    send_id: str
    policy: WebhookPolicy


@dataclass(frozen=True)
class SendGivenUp:
    """A send the ``WebhookSend`` workflow stops trying, and why."""

    send_id: str
    reason: str


def webhook_workflow_id(send_id: str) -> str:
    return f"webhook-{send_id}"


def webhook_task_queue(task_queue: str) -> str:
    """Sends run on a task queue of their own, next to the deliveries' one, with slots of
    their own: a slow endpoint never holds a delivery's slot."""
    return f"{task_queue}-webhooks"
