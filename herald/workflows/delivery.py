"""``MessageDelivery``: one durable workflow per message (DESIGN §7).

It runs the ``deliver`` activity under a declarative retry policy, waits for the
``acknowledge`` signal, re-sends when the ack does not come in time (a failed transient
attempt), and dead-letters the message when the retry budget is spent or the provider
refuses it for good.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from herald.activities.delivery import DeliveryActivities
    from herald.core.contract import (
        AttemptRequest,
        DeliveryJob,
        DeliveryPolicy,
        FailureClass,
        MessageStatus,
        Transition,
    )
    from herald.core.errors import PermanentDeliveryError
    from herald.core.temporal import MESSAGE_STATUS

__all__ = ["MessageDelivery"]

BOOKKEEPING_TIMEOUT = timedelta(seconds=10)
BOOKKEEPING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))
"""Bookkeeping retries until the database answers: a transition is never dropped."""


def attempt_retry_policy(policy: DeliveryPolicy, attempts_before: int) -> RetryPolicy:
    """The declarative policy for one run of ``deliver``: the attempts not yet spent."""
    return RetryPolicy(
        initial_interval=policy.retry_delay(attempts_before),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=policy.max_retry_delay_seconds),
        maximum_attempts=policy.max_attempts - attempts_before,
        non_retryable_error_types=[PermanentDeliveryError.__name__],
    )


@workflow.defn
class MessageDelivery:
    def __init__(self) -> None:
        self._acknowledged = False

    @workflow.signal
    def acknowledge(self) -> None:
        """The gateway confirmed delivery (possibly of an earlier attempt)."""
        self._acknowledged = True

    @workflow.run
    async def run(self, job: DeliveryJob) -> MessageStatus:
        policy = job.policy
        attempts = 0
        while True:
            try:
                result = await workflow.execute_activity_method(
                    DeliveryActivities.deliver,
                    AttemptRequest(job.message_id, attempts, policy),
                    start_to_close_timeout=timedelta(seconds=policy.attempt_timeout_seconds),
                    retry_policy=attempt_retry_policy(policy, attempts),
                )
            except ActivityError as err:
                if self._acknowledged:  # a late ack for an earlier attempt
                    return await self._delivered(job)
                return await self._dead_lettered(job, *_describe(err))
            attempts = result.attempt
            self._set_status(MessageStatus.AWAITING_ACK)
            if await self._acknowledged_within(policy.ack_timeout_seconds):
                return await self._delivered(job)
            reason = f"no acknowledgment within {policy.ack_timeout_seconds:g}s"
            if attempts >= policy.max_attempts:
                return await self._dead_lettered(job, reason, FailureClass.TRANSIENT)
            delay = policy.retry_delay(attempts - 1)
            workflow.logger.info("message %s: %s, re-sending", job.message_id, reason)
            await self._record(
                Transition(
                    job.message_id,
                    MessageStatus.RETRYING,
                    next_retry_in_seconds=delay.total_seconds(),
                    failure_reason=reason,
                    failure_class=FailureClass.TRANSIENT,
                )
            )
            if await self._acknowledged_within(delay.total_seconds()):
                return await self._delivered(job)

    async def _acknowledged_within(self, seconds: float) -> bool:
        try:
            await workflow.wait_condition(
                lambda: self._acknowledged, timeout=timedelta(seconds=seconds)
            )
        except TimeoutError:
            return False
        return True

    async def _delivered(self, job: DeliveryJob) -> MessageStatus:
        await self._record(Transition(job.message_id, MessageStatus.DELIVERED))
        return MessageStatus.DELIVERED

    async def _dead_lettered(
        self, job: DeliveryJob, reason: str, failure_class: FailureClass
    ) -> MessageStatus:
        workflow.logger.warning("message %s dead-lettered: %s", job.message_id, reason)
        await self._record(
            Transition(
                job.message_id,
                MessageStatus.DEAD_LETTERED,
                failure_reason=reason,
                failure_class=failure_class,
            )
        )
        return MessageStatus.DEAD_LETTERED

    async def _record(self, transition: Transition) -> None:
        self._set_status(transition.status)
        await workflow.execute_local_activity_method(
            DeliveryActivities.record_transition,
            transition,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )

    def _set_status(self, status: MessageStatus) -> None:
        """Keep the ``MessageStatus`` search attribute current for the Web UI."""
        workflow.upsert_search_attributes([MESSAGE_STATUS.value_set(status.value)])


def _describe(err: ActivityError) -> tuple[str, FailureClass]:
    """The reason and class of the failure that ended the last attempt."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        is_permanent = cause.type == PermanentDeliveryError.__name__
        return cause.message, FailureClass.PERMANENT if is_permanent else FailureClass.TRANSIENT
    return str(cause or err), FailureClass.TRANSIENT
