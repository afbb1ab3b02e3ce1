"""The delivery activities: one provider attempt, and the workflow's bookkeeping writes."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError, RPCStatusCode

from herald.activities.breaker import BreakerReading, Outcome, ProviderBreaker
from herald.activities.projection import AttemptRecord, MessageProjection, Settled
from herald.activities.providers import Accepted, OutboundMessage, Provider
from herald.core.contract import (
    AttemptRequest,
    AttemptResult,
    DeliveryPolicy,
    Line,
    PriorityChange,
    Reprioritized,
    Transition,
)
from herald.core.database import DATABASE_UNAVAILABLE
from herald.core.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RecoverableDeliveryError,
    TransientDeliveryError,
)
from herald.core.models import AttemptOutcome, utcnow
from herald.core.outcomes import Recorded, WebhookPolicy

__all__ = ["DeliveryActivities", "MessageNotFound"]

log = logging.getLogger(__name__)

DATABASE_WAIT_SECONDS = 5.0


class MessageNotFound(ApplicationError):
    def __init__(self, message_id: str) -> None:
        super().__init__(
            f"message {message_id} is not in the database",
            type="MessageNotFound",
            non_retryable=True,
        )


class DeliveryActivities:
    """Activities as methods, so the worker hands them their dependencies once."""

    def __init__(
        self,
        projection: MessageProjection,
        provider: Provider,
        breaker: ProviderBreaker,
        webhook_policy: WebhookPolicy | None = None,
    ) -> None:
        self._projection = projection
        self._provider = provider
        self._breaker = breaker
        self._webhook_policy = webhook_policy or WebhookPolicy()

    @activity.defn(name="deliver")
    async def deliver(self, request: AttemptRequest) -> AttemptResult:
        """One attempt: load the content (claim check), send, and record the outcome.

        A recoverable answer (429 with ``Retry-After``, or an open circuit breaker, in which
        case nothing is sent) returns a deferral, so that the
        workflow waits without spending the retry budget. Other failures are raised as an
        ``ApplicationError`` typed by their class; a retryable one carries the policy's delay
        for this retry, so backoff continues across ack timeouts.
        """
        message_id = request.message_id
        attempt = request.attempts_before + activity.info().attempt
        started_at = utcnow()
        try:
            context = await self._projection.begin_attempt(message_id, attempt)
        except DATABASE_UNAVAILABLE as err:
            # Nothing was sent: wait for the database without spending the retry budget.
            log.warning(
                "database unavailable, delivery waits",
                extra={"message_id": message_id, "error": str(err)},
            )
            return AttemptResult(attempt=attempt, retry_after_seconds=DATABASE_WAIT_SECONDS)
        if context is None:
            raise MessageNotFound(message_id)
        if isinstance(context, Settled):  # canceled, or its recipient suppressed: not sent
            return AttemptResult(attempt=attempt, settled=context.status)
        outbound = OutboundMessage(
            id=message_id,
            recipient=context.recipient,
            content=context.content,
            priority=context.priority,
            sequence_number=context.sequence_number,
            attempt=attempt,
        )
        try:
            accepted = await self._send(outbound, context.breaker)
        except RecoverableDeliveryError as err:
            return await self._deferred(message_id, _failed_attempt(attempt, started_at, err), err)
        except DeliveryError as err:
            record = _failed_attempt(attempt, started_at, err)
            raise await self._failed(request, record, err) from None
        record = AttemptRecord(
            attempt,
            started_at,
            AttemptOutcome.ACCEPTED,
            accepted.http_status,
            accepted.provider_message_id,
        )
        await self._projection.accept(message_id, accepted.provider_message_id, record)
        log.info(
            "message accepted by provider",
            extra={"message_id": message_id, "status": "awaiting_ack", "attempt": attempt},
        )
        return AttemptResult(attempt=attempt, provider_message_id=accepted.provider_message_id)

    async def _send(self, outbound: OutboundMessage, breaker: BreakerReading) -> Accepted:
        """The provider call, through the breaker (as the attempt's first statement read it);
        only transient failures count against the provider (a refused recipient says nothing
        about the provider's health)."""
        admission = await self._breaker.admit(breaker)
        outcome: Outcome = "neutral"
        try:
            accepted = await self._provider.send(outbound)
            outcome = "success"
            return accepted
        except PermanentDeliveryError:
            outcome = "success"
            raise
        except TransientDeliveryError:
            outcome = "failure"
            raise
        finally:
            await self._breaker.record(admission, outcome)

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> Recorded:
        """Write the transition; answers whether it applied, the status after it, and the
        outcome webhook sends it enqueued, for the workflow to start."""
        recorded = await self._projection.apply(transition)
        if not recorded.applied:
            log.info(
                "status change refused: the message is in another status",
                extra={
                    "message_id": transition.message_id,
                    "status": transition.status.value,
                    "current_status": recorded.status.value,
                },
            )
            return recorded
        fields: dict[str, str | None] = {
            "message_id": transition.message_id,
            "status": transition.status.value,
        }
        if transition.failure_class is not None:
            fields |= {
                "failure_class": transition.failure_class.value,
                "reason": transition.failure_reason,
            }
        log.info("message status changed", extra=fields)
        return replace(recorded, webhook_policy=self._webhook_policy)

    @activity.defn(name="reprioritize")
    async def reprioritize(self, change: PriorityChange) -> Reprioritized:
        return await self._projection.reprioritize(change)

    @activity.defn(name="first_open_sequence_number")
    async def first_open_sequence_number(self, line: Line) -> int | None:
        return await self._projection.first_open_sequence_number(line)

    @activity.defn(name="workflow_is_open")
    async def workflow_is_open(self, workflow_id: str) -> bool:
        """Whether the workflow's latest run is still running (a line checks on a head that
        has been silent for long: an operator may have terminated it)."""
        try:
            description = await activity.client().get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return description.status == WorkflowExecutionStatus.RUNNING

    async def _deferred(
        self, message_id: str, record: AttemptRecord, err: RecoverableDeliveryError
    ) -> AttemptResult:
        wait = err.retry_after_seconds
        await self._projection.fail_attempt(message_id, record, retry_in=timedelta(seconds=wait))
        _log_retry(message_id, record.attempt, err, wait)
        return AttemptResult(attempt=record.attempt, retry_after_seconds=wait)

    async def _failed(
        self, request: AttemptRequest, record: AttemptRecord, err: DeliveryError
    ) -> ApplicationError:
        attempt = record.attempt
        retry_in = _retry_delay(request.policy, attempt, err)
        await self._projection.fail_attempt(request.message_id, record, retry_in=retry_in)
        if retry_in is None:
            log.warning(
                "attempt failed, no retry left",
                extra={
                    "message_id": request.message_id,
                    "attempt": attempt,
                    "failure_class": err.failure_class.value,
                    "reason": err.reason,
                },
            )
        else:
            _log_retry(request.message_id, attempt, err, retry_in.total_seconds())
        return ApplicationError(
            err.reason,
            type=type(err).__name__,
            non_retryable=retry_in is None,
            next_retry_delay=retry_in,
            # An expected failure, logged above in one line: the SDK logs benign errors at
            # DEBUG, without the traceback it gives an unexpected one.
            category=ApplicationErrorCategory.BENIGN,
        )


def _failed_attempt(attempt: int, started_at: datetime, err: DeliveryError) -> AttemptRecord:
    outcome = (
        AttemptOutcome.DEFERRED
        if isinstance(err, RecoverableDeliveryError)
        else AttemptOutcome.FAILED
    )
    return AttemptRecord(
        attempt,
        started_at,
        outcome,
        err.http_status,
        failure_class=err.failure_class,
        failure_reason=err.reason,
    )


def _retry_delay(policy: DeliveryPolicy, attempt: int, err: DeliveryError) -> timedelta | None:
    """When the next attempt runs, or ``None`` when there is none."""
    if isinstance(err, PermanentDeliveryError) or attempt >= policy.max_attempts:
        return None
    return policy.retry_delay(attempt - 1)


def _log_retry(message_id: str, attempt: int, err: DeliveryError, delay_seconds: float) -> None:
    log.warning(
        "retry scheduled",
        extra={
            "message_id": message_id,
            "status": "retrying",
            "attempt": attempt,
            "failure_class": err.failure_class.value,
            "delay_seconds": delay_seconds,
            "reason": err.reason,
        },
    )
