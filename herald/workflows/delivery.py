"""``MessageDelivery``: one durable workflow per message (DESIGN §7).

It runs the ``deliver`` activity under a declarative retry policy, waits for the
``acknowledge`` signal, re-sends when the ack does not come in time (a failed transient
attempt), waits as told when the provider or the circuit breaker defers (recoverable, no
budget spent), and dead-letters the message when the budget is spent, the provider refuses
it for good, or its validity passes. A dead letter stays open for an operator's ``requeue``
or ``discard`` until the retention passes, then expires.

A strictly ordered message is a member of its recipient's ``RecipientSequence`` line: unless
it is the head, it waits for the line's ``take_turn`` signal (ending ``expired`` at once if
its validity passes first), and it signals ``member_left`` to the line when it leaves it:
delivered, discarded, expired, or dead-lettered (unless the policy holds the line then).
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    from herald.activities.delivery import DeliveryActivities
    from herald.core.contract import (
        AttemptRequest,
        DeadLetterAction,
        DeliveryJob,
        DeliveryPolicy,
        FailureClass,
        MessageStatus,
        Transition,
    )
    from herald.core.errors import PermanentDeliveryError
    from herald.core.temporal import MESSAGE_STATUS, delivery_priority
    from herald.workflows.webhooks import start_webhook_sends

__all__ = ["MessageDelivery", "NotDeadLettered", "attempt_retry_policy"]

RESOLUTION = {
    DeadLetterAction.REQUEUE: MessageStatus.QUEUED,
    DeadLetterAction.DISCARD: MessageStatus.DISCARDED,
}
"""The status each operator action leads to."""

BOOKKEEPING_TIMEOUT = timedelta(seconds=10)
BOOKKEEPING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))
"""Bookkeeping retries until the database answers: a transition is never dropped."""


class NotDeadLettered(ApplicationError):
    """An operator action on a message that is not in the dead-letter queue."""

    def __init__(self, status: MessageStatus) -> None:
        super().__init__(
            f"the message is {status}, not dead_lettered",
            type="NotDeadLettered",
            non_retryable=True,
        )


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
        self._status = MessageStatus.QUEUED
        self._acknowledged = False
        self._operator_action: DeadLetterAction | None = None
        self._has_turn = False
        self._in_line = False

    @workflow.signal
    def acknowledge(self) -> None:
        """The gateway confirmed delivery of an attempt it accepted (possibly an earlier one;
        the API signals only once the provider has accepted one)."""
        self._acknowledged = True

    @workflow.signal
    def take_turn(self) -> None:
        """The message's line lets it go: every earlier message has left the line."""
        self._has_turn = True

    @workflow.update
    async def requeue(self) -> MessageStatus:
        """Deliver a dead letter again with a fresh retry budget; answers the new status."""
        return await self._act(DeadLetterAction.REQUEUE)

    @requeue.validator
    def _requeue_only_dead_letters(self) -> None:
        self._require_dead_lettered()

    @workflow.update
    async def discard(self) -> MessageStatus:
        """Remove a dead letter for good (the row is kept for audit)."""
        return await self._act(DeadLetterAction.DISCARD)

    @discard.validator
    def _discard_only_dead_letters(self) -> None:
        self._require_dead_lettered()

    @workflow.run
    async def run(self, job: DeliveryJob) -> MessageStatus:
        expires_at = datetime.fromtimestamp(job.expires_at, UTC)
        self._in_line = job.sequence_number is not None
        if job.waits_for_turn and not await self._turn_before(expires_at):
            status = await self._finish(
                job,
                MessageStatus.EXPIRED,
                failure_reason="validity passed while waiting behind earlier messages of its "
                "recipient's strict line",
                failure_class=FailureClass.EXPIRED,
            )
        else:
            status = await self._deliver_until_settled(job, expires_at)
        await self._leave_line(job)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return status

    async def _deliver_until_settled(self, job: DeliveryJob, expires_at: datetime) -> MessageStatus:
        """Deliver; from the dead-letter queue, as often as an operator requeues."""
        while (status := await self._deliver(job, expires_at)) == MessageStatus.DEAD_LETTERED:
            if not job.policy.hold_line_on_dead_letter:
                await self._leave_line(job)
            status = await self._wait_for_operator(job)
            if status != MessageStatus.QUEUED:
                break
            expires_at = workflow.now() + timedelta(seconds=job.policy.validity_seconds)
        return status

    async def _turn_before(self, expires_at: datetime) -> bool:
        """Wait for the line's ``take_turn``; False when the validity passed first."""
        remaining = expires_at - workflow.now()
        if remaining <= timedelta(0):
            return self._has_turn
        try:
            await workflow.wait_condition(lambda: self._has_turn, timeout=remaining)
        except builtins.TimeoutError:
            return self._has_turn
        return True

    async def _leave_line(self, job: DeliveryJob) -> None:
        """Tell the recipient's line that this message no longer holds it (once)."""
        if not self._in_line:
            return
        self._in_line = False
        line = workflow.get_external_workflow_handle(job.line.workflow_id)
        try:
            await line.signal("member_left", job.sequence_number)
        except Exception:  # the line has ended: nothing waits for this message any more
            workflow.logger.warning(
                "the message's line is gone; nothing to release",
                extra={"message_id": job.message_id},
            )

    async def _deliver(self, job: DeliveryJob, expires_at: datetime) -> MessageStatus:
        """Attempts until delivered or dead-lettered."""
        policy = job.policy
        attempts = 0
        while True:
            remaining = expires_at - workflow.now()
            if remaining <= timedelta(0):
                return await self._expired_before_delivery(job)
            try:
                result = await workflow.execute_activity_method(
                    DeliveryActivities.deliver,
                    AttemptRequest(job.message_id, attempts, policy),
                    start_to_close_timeout=timedelta(seconds=policy.attempt_timeout_seconds),
                    schedule_to_close_timeout=remaining,
                    retry_policy=attempt_retry_policy(policy, attempts),
                    priority=delivery_priority(job),
                )
            except ActivityError as err:
                if self._acknowledged:  # a late ack for an earlier attempt
                    return await self._finish(job, MessageStatus.DELIVERED)
                return await self._dead_letter(job, *_describe(err))
            if result.retry_after_seconds is not None:
                attempts = result.attempt - 1  # a deferral spends nothing
                self._set_status(MessageStatus.RETRYING)
                wait = timedelta(seconds=result.retry_after_seconds)
                if workflow.now() + wait >= expires_at:
                    return await self._expired_before_delivery(job)
                if await self._acknowledged_within(wait):
                    return await self._finish(job, MessageStatus.DELIVERED)
                continue
            attempts = result.attempt
            self._set_status(MessageStatus.AWAITING_ACK)
            if await self._acknowledged_within(timedelta(seconds=policy.ack_timeout_seconds)):
                return await self._finish(job, MessageStatus.DELIVERED)
            reason = f"no acknowledgment within {policy.ack_timeout_seconds:g}s"
            if attempts >= policy.max_attempts:
                return await self._dead_letter(job, reason, FailureClass.TRANSIENT)
            delay = policy.retry_delay(attempts - 1)
            workflow.logger.info(
                "retry scheduled",
                extra={
                    "message_id": job.message_id,
                    "delay_seconds": delay.total_seconds(),
                    "failure_class": FailureClass.TRANSIENT.value,
                    "reason": reason,
                },
            )
            await self._record(
                Transition(
                    job.message_id,
                    MessageStatus.RETRYING,
                    next_retry_in_seconds=delay.total_seconds(),
                    failure_reason=reason,
                    failure_class=FailureClass.TRANSIENT,
                )
            )
            if await self._acknowledged_within(delay):
                return await self._finish(job, MessageStatus.DELIVERED)

    async def _wait_for_operator(self, job: DeliveryJob) -> MessageStatus:
        """In the dead-letter queue: requeue, discard, a late ack, or expiry."""
        retention = timedelta(seconds=job.policy.dead_letter_retention_seconds)
        try:
            await workflow.wait_condition(
                lambda: self._operator_action is not None or self._acknowledged,
                timeout=retention,
            )
        except builtins.TimeoutError:
            return await self._finish(job, MessageStatus.EXPIRED)
        action = self._operator_action
        if self._acknowledged:
            return await self._finish(job, MessageStatus.DELIVERED)
        if action == DeadLetterAction.DISCARD:
            return await self._finish(job, MessageStatus.DISCARDED)
        await self._record(Transition(job.message_id, MessageStatus.QUEUED, retry_count=0))
        self._operator_action = None
        return MessageStatus.QUEUED

    async def _act(self, action: DeadLetterAction) -> MessageStatus:
        """The status ``action`` led to; a ``NotDeadLettered`` failure when something else
        (a late ack, the retention passing) settled the dead letter first."""
        self._operator_action = action
        await workflow.wait_condition(lambda: self._status != MessageStatus.DEAD_LETTERED)
        if self._status != RESOLUTION[action]:
            raise NotDeadLettered(self._status)
        return self._status

    def _require_dead_lettered(self) -> None:
        if self._status != MessageStatus.DEAD_LETTERED or self._operator_action is not None:
            raise NotDeadLettered(self._status)

    async def _acknowledged_within(self, wait: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._acknowledged, timeout=wait)
        except builtins.TimeoutError:
            return False
        return True

    async def _expired_before_delivery(self, job: DeliveryJob) -> MessageStatus:
        validity = f"{job.policy.validity_seconds:g}s"
        return await self._dead_letter(
            job, f"validity of {validity} passed before delivery", FailureClass.EXPIRED
        )

    async def _dead_letter(
        self, job: DeliveryJob, reason: str, failure_class: FailureClass
    ) -> MessageStatus:
        await self._record(
            Transition(
                job.message_id,
                MessageStatus.DEAD_LETTERED,
                failure_reason=reason,
                failure_class=failure_class,
                released_from_line=self._in_line and not job.policy.hold_line_on_dead_letter,
            )
        )
        return MessageStatus.DEAD_LETTERED

    async def _finish(
        self,
        job: DeliveryJob,
        status: MessageStatus,
        *,
        failure_reason: str | None = None,
        failure_class: FailureClass | None = None,
    ) -> MessageStatus:
        await self._record(
            Transition(
                job.message_id, status, failure_reason=failure_reason, failure_class=failure_class
            )
        )
        return status

    async def _record(self, transition: Transition) -> None:
        recorded = await workflow.execute_local_activity_method(
            DeliveryActivities.record_transition,
            transition,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        self._set_status(transition.status)
        await start_webhook_sends(recorded)  # outcome webhooks, never waited for

    def _set_status(self, status: MessageStatus) -> None:
        """Track the status, and keep the ``MessageStatus`` search attribute current."""
        self._status = status
        workflow.upsert_search_attributes([MESSAGE_STATUS.value_set(status.value)])


def _describe(err: ActivityError) -> tuple[str, FailureClass]:
    """The reason and class of the failure that ended the last attempt."""
    cause = err.cause
    if isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_CLOSE:
        return "validity passed while retrying", FailureClass.EXPIRED
    if isinstance(cause, ApplicationError):
        is_permanent = cause.type == PermanentDeliveryError.__name__
        return cause.message, FailureClass.PERMANENT if is_permanent else FailureClass.TRANSIENT
    return str(cause or err), FailureClass.TRANSIENT
