"""The delivery activities: one provider attempt, and the workflow's bookkeeping writes."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.activities.projection import MessageProjection
from herald.activities.providers import OutboundMessage, Provider
from herald.core.contract import AttemptRequest, AttemptResult, DeliveryPolicy, Transition
from herald.core.errors import DeliveryError, PermanentDeliveryError

__all__ = ["DeliveryActivities", "MessageNotFound"]

log = logging.getLogger(__name__)


class MessageNotFound(ApplicationError):
    def __init__(self, message_id: str) -> None:
        super().__init__(
            f"message {message_id} is not in the database",
            type="MessageNotFound",
            non_retryable=True,
        )


class DeliveryActivities:
    """Activities as methods, so the worker hands them their dependencies once."""

    def __init__(self, projection: MessageProjection, provider: Provider) -> None:
        self._projection = projection
        self._provider = provider

    @activity.defn(name="deliver")
    async def deliver(self, request: AttemptRequest) -> AttemptResult:
        """One attempt: load the content (claim check), send, and record the outcome.

        A failure is raised as an ``ApplicationError`` typed by its class; a retryable one
        carries the policy's delay for this retry, so backoff continues across ack timeouts.
        """
        attempt = request.attempts_before + activity.info().attempt
        context = await self._projection.begin_attempt(request.message_id, attempt)
        if context is None:
            raise MessageNotFound(request.message_id)
        outbound = OutboundMessage(
            id=request.message_id,
            recipient=context.recipient,
            content=context.content,
            priority=context.priority,
            sequence_number=context.sequence_number,
            attempt=attempt,
        )
        try:
            provider_message_id = await self._provider.send(outbound)
        except DeliveryError as err:
            raise await self._failed(request, attempt, err) from None
        await self._projection.accept(request.message_id, provider_message_id)
        log.info("message %s accepted by provider on attempt %d", request.message_id, attempt)
        return AttemptResult(attempt=attempt, provider_message_id=provider_message_id)

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> None:
        await self._projection.apply(transition)
        log.info("message %s is now %s", transition.message_id, transition.status)

    async def _failed(
        self, request: AttemptRequest, attempt: int, err: DeliveryError
    ) -> ApplicationError:
        retry_in = _retry_delay(request.policy, attempt, err)
        await self._projection.fail_attempt(
            request.message_id,
            reason=err.reason,
            failure_class=err.failure_class,
            retry_in=retry_in,
        )
        if retry_in is None:
            log.warning(
                "message %s attempt %d failed for good: %s", request.message_id, attempt, err
            )
        else:
            log.warning(
                "message %s attempt %d failed (%s), retry in %.1fs: %s",
                request.message_id,
                attempt,
                err.failure_class,
                retry_in.total_seconds(),
                err,
            )
        return ApplicationError(
            err.reason,
            type=type(err).__name__,
            non_retryable=retry_in is None,
            next_retry_delay=retry_in,
        )


def _retry_delay(policy: DeliveryPolicy, attempt: int, err: DeliveryError) -> timedelta | None:
    """When the next attempt runs, or ``None`` when there is none."""
    if isinstance(err, PermanentDeliveryError) or attempt >= policy.max_attempts:
        return None
    backoff = policy.retry_delay(attempt - 1)
    if err.retry_after_seconds is not None:
        return max(backoff, timedelta(seconds=err.retry_after_seconds))
    return backoff
