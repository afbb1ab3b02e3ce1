"""``MessageDelivery``: one durable workflow per message (DESIGN §7, §12).

It runs the ``deliver`` activity under a declarative retry policy, waits for the
``acknowledge`` signal, re-sends when the ack does not come in time (a failed transient
attempt), waits as told when the provider or the circuit breaker defers (recoverable, no
budget spent), and dead-letters the message when the budget is spent, the provider refuses
it for good, or its validity passes. A dead letter stays open for an operator's ``requeue``
or ``discard`` until the retention passes, then expires.

A scheduled message (``send_at``) waits for its time first. Until the provider accepts it, a
message can be canceled (``cancel``) or given another priority (``change_priority``); the
database decides such a race with an attempt starting (see ``MessageProjection``), a pending
attempt is withdrawn (``WAIT_CANCELLATION_COMPLETED``: if it had started, its outcome
counts), and a message whose recipient is suppressed ends ``suppressed`` at its next
attempt, unsent.

A strictly ordered message is a member of its recipient's ``RecipientSequence`` line: unless
it is the head, it waits for the line's ``take_turn`` signal (ending ``expired`` at once if
its validity passes first), and it signals ``member_left`` to the line when it leaves it:
delivered, discarded, expired, canceled, suppressed, or dead-lettered (unless the policy
holds the line then).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
    TimeoutType,
)
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from herald.activities.delivery import DeliveryActivities
    from herald.core.contract import (
        CHANGEABLE_STATUSES,
        TERMINAL_STATUSES,
        AttemptRequest,
        AttemptResult,
        DeadLetterAction,
        DeliveryJob,
        DeliveryPolicy,
        FailureClass,
        MessageStatus,
        Priority,
        PriorityChange,
        Reprioritized,
        Transition,
    )
    from herald.core.errors import PermanentDeliveryError
    from herald.core.explain import MessageView, explain
    from herald.core.outcomes import Recorded
    from herald.core.temporal import MESSAGE_PRIORITY, MESSAGE_STATUS, delivery_priority
    from herald.workflows.webhooks import start_webhook_sends

__all__ = ["MessageDelivery", "NotChangeable", "NotDeadLettered", "attempt_retry_policy"]

RESOLUTION = {
    DeadLetterAction.REQUEUE: MessageStatus.QUEUED,
    DeadLetterAction.DISCARD: MessageStatus.DISCARDED,
}
"""The status each operator action leads to."""

BOOKKEEPING_TIMEOUT = timedelta(seconds=10)
BOOKKEEPING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))
"""Bookkeeping retries until the database answers: a transition is never dropped."""

SUPPRESSED_REASON = "the recipient is on the tenant's suppression list"


class NotDeadLettered(ApplicationError):
    """An operator action on a message that is not in the dead-letter queue."""

    def __init__(self, status: MessageStatus) -> None:
        super().__init__(
            f"the message is {status}, not dead_lettered",
            type="NotDeadLettered",
            non_retryable=True,
        )


class NotChangeable(ApplicationError):
    """A cancel or priority change of a message the provider has (or that has finished)."""

    def __init__(self, status: MessageStatus) -> None:
        super().__init__(
            f"the message is {status}; only scheduled, pending, queued or retrying messages "
            "can be canceled or change priority",
            type="NotChangeable",
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
    @workflow.init
    def __init__(self, job: DeliveryJob) -> None:
        self._job = job
        self._status = MessageStatus.QUEUED
        self._acknowledged = False
        self._operator_action: DeadLetterAction | None = None
        self._has_turn = False
        self._in_line = False
        self._stopped: MessageStatus | None = None
        """A final status reached outside the main flow (a cancel)."""
        self._attempt_pending = False
        self._reschedule: Reprioritized | None = None
        """A priority change the pending attempt must be withdrawn for."""
        self._last_failure: str | None = None
        self._dead_lettered_at: datetime | None = None

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

    @workflow.update
    async def cancel(self) -> MessageStatus:
        """Cancel the message unless the provider has it; it is never sent afterwards."""
        recorded = await self._write(
            Transition(
                self._job.message_id,
                MessageStatus.CANCELED,
                only_from=sorted(CHANGEABLE_STATUSES),
            )
        )
        if not recorded.applied:
            raise NotChangeable(recorded.status)
        self._stopped = MessageStatus.CANCELED
        self._set_status(MessageStatus.CANCELED)
        return MessageStatus.CANCELED

    @cancel.validator
    def _cancel_only_changeable(self) -> None:
        self._require_changeable()

    @workflow.update
    async def change_priority(self, priority: Priority) -> Priority:
        """Give the message another priority: its next attempt runs with it (an attempt
        waiting in the task queue, or between retries, is rescheduled)."""
        change = await workflow.execute_local_activity_method(
            DeliveryActivities.reprioritize,
            PriorityChange(self._job.message_id, priority),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        if not change.applied:
            raise NotChangeable(change.status)
        self._job = replace(self._job, priority=priority)
        workflow.upsert_search_attributes([MESSAGE_PRIORITY.value_set(priority.value)])
        if self._attempt_pending:
            self._reschedule = change
        return priority

    @change_priority.validator
    def _change_only_changeable(self, priority: Priority) -> None:
        self._require_changeable()

    @workflow.run
    async def run(self, job: DeliveryJob) -> MessageStatus:
        self._in_line = job.sequence_number is not None
        self._explain()
        status = await self._settle(job.expires_at)
        await self._leave_line()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return status

    async def _settle(self, expires_at: datetime) -> MessageStatus:
        """From submit to a final status (or the end of the dead-letter retention)."""
        job = self._job
        if job.send_at is not None and not await self._until_send_at(job.send_at):
            return self._status
        if job.waits_for_turn and not await self._turn_before(expires_at):
            return self._stopped or await self._finish(
                MessageStatus.EXPIRED,
                failure_reason="validity passed while waiting behind earlier messages of its "
                "recipient's strict line",
                failure_class=FailureClass.EXPIRED,
            )
        while (status := await self._deliver(expires_at)) == MessageStatus.DEAD_LETTERED:
            if not job.policy.hold_line_on_dead_letter:
                await self._leave_line()
            status = await self._wait_for_operator()
            if status != MessageStatus.QUEUED:
                break
            expires_at = workflow.now() + timedelta(seconds=job.policy.validity_seconds)
        return status

    async def _until_send_at(self, send_at: datetime) -> bool:
        """A scheduled message waits for its time (its status ``scheduled``, as its start
        set it); False when it was canceled first."""
        wait = send_at - workflow.now()
        if wait <= timedelta(0):
            return True
        self._status = MessageStatus.SCHEDULED
        self._explain()
        if await self._waited(lambda: False, wait) is None:
            return False
        recorded = await self._write(
            Transition(
                self._job.message_id,
                MessageStatus.QUEUED,
                only_from=[MessageStatus.SCHEDULED, MessageStatus.PENDING],
            )
        )
        return recorded.status not in TERMINAL_STATUSES

    async def _turn_before(self, expires_at: datetime) -> bool:
        """Wait for the line's ``take_turn``; False when the validity passed (or a cancel
        came) first."""
        return bool(await self._waited(lambda: self._has_turn, expires_at - workflow.now()))

    async def _leave_line(self) -> None:
        """Tell the recipient's line that this message no longer holds it (once)."""
        if not self._in_line:
            return
        self._in_line = False
        job = self._job
        line = workflow.get_external_workflow_handle(job.line.workflow_id)
        try:
            await line.signal("member_left", job.sequence_number)
        except Exception:  # the line has ended: nothing waits for this message any more
            workflow.logger.warning(
                "the message's line is gone; nothing to release",
                extra={"message_id": job.message_id},
            )

    async def _deliver(self, expires_at: datetime) -> MessageStatus:
        """Attempts until delivered, dead-lettered, canceled or suppressed."""
        policy = self._job.policy
        attempts = 0
        while True:
            if self._stopped is not None:
                return self._stopped
            remaining = expires_at - workflow.now()
            if remaining <= timedelta(0):
                return await self._expired_before_delivery()
            try:
                result = await self._attempt(attempts, remaining)
            except ActivityError as err:
                if self._acknowledged:  # a late ack for an earlier attempt
                    return await self._finish(MessageStatus.DELIVERED)
                return await self._dead_letter(*_describe(err))
            if isinstance(result, Reprioritized):  # withdrawn: again, with the new priority
                attempts = await self._resume_after(result, attempts)
                continue
            if result is None:
                continue  # withdrawn for a cancel: the loop returns the status
            if result.settled is not None:
                return await self._settled(result.settled)
            if result.retry_after_seconds is not None:
                attempts = result.attempt - 1  # a deferral spends nothing
                self._set_status(MessageStatus.RETRYING)
                wait = timedelta(seconds=result.retry_after_seconds)
                if workflow.now() + wait >= expires_at:
                    return await self._expired_before_delivery()
                if await self._waited(lambda: self._acknowledged, wait):
                    return await self._finish(MessageStatus.DELIVERED)
                continue
            attempts = result.attempt
            if self._acknowledged:
                # The ack came with the acceptance: delivered at once, without publishing an
                # ``awaiting_ack`` no one could see (a history event and a visibility write).
                self._status = MessageStatus.AWAITING_ACK
                return await self._finish(MessageStatus.DELIVERED)
            self._set_status(MessageStatus.AWAITING_ACK)
            ack_wait = timedelta(seconds=policy.ack_timeout_seconds)
            if await self._waited(lambda: self._acknowledged, ack_wait):
                return await self._finish(MessageStatus.DELIVERED)
            reason = f"no acknowledgment within {policy.ack_timeout_seconds:g}s"
            self._failed(f"transient: {reason}")
            if attempts >= policy.max_attempts:
                return await self._dead_letter(reason, FailureClass.TRANSIENT, attempts)
            if await self._retry_after_ack_timeout(attempts, reason):
                return await self._finish(MessageStatus.DELIVERED)

    async def _attempt(
        self, attempts: int, remaining: timedelta
    ) -> AttemptResult | Reprioritized | None:
        """One run of ``deliver``; a priority change's ``Reprioritized`` (or ``None`` for a
        cancel) when it was withdrawn before it started."""
        job = self._job
        policy = job.policy
        handle = workflow.start_activity_method(
            DeliveryActivities.deliver,
            AttemptRequest(job.message_id, attempts, policy),
            start_to_close_timeout=timedelta(seconds=policy.attempt_timeout_seconds),
            schedule_to_close_timeout=remaining,
            retry_policy=attempt_retry_policy(policy, attempts),
            priority=delivery_priority(job),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._attempt_pending = True
        try:
            await workflow.wait_condition(
                lambda: handle.done() or self._stopped is not None or self._reschedule is not None
            )
            if not handle.done():
                handle.cancel()
            try:
                return await handle
            except ActivityError as err:
                if not isinstance(err.cause, CancelledError):
                    raise
            return self._reschedule
        finally:
            self._attempt_pending = False
            self._reschedule = None

    async def _resume_after(self, change: Reprioritized, attempts: int) -> int:
        """After a withdrawn attempt: the attempts it had made (between retries, the row
        counts them) and, between retries, the rest of the backoff."""
        if change.status != MessageStatus.RETRYING:
            return attempts
        if change.next_retry_at is not None:
            rest = change.next_retry_at - workflow.now()
            await self._waited(lambda: False, rest)
        return change.retry_count + 1

    async def _retry_after_ack_timeout(self, attempts: int, reason: str) -> bool:
        """Record the retry the missing ack costs and wait for it; True when a late ack
        came meanwhile."""
        delay = self._job.policy.retry_delay(attempts - 1)
        workflow.logger.info(
            "retry scheduled",
            extra={
                "message_id": self._job.message_id,
                "delay_seconds": delay.total_seconds(),
                "failure_class": FailureClass.TRANSIENT.value,
                "reason": reason,
            },
        )
        await self._record(
            Transition(
                self._job.message_id,
                MessageStatus.RETRYING,
                next_retry_in_seconds=delay.total_seconds(),
                failure_reason=reason,
                failure_class=FailureClass.TRANSIENT,
                ack_timeout_attempt=attempts,
            )
        )
        return bool(await self._waited(lambda: self._acknowledged, delay))

    async def _settled(self, status: MessageStatus) -> MessageStatus:
        """An attempt found the message settled: canceled already, or to be suppressed."""
        if status == MessageStatus.SUPPRESSED:
            return await self._finish(status, failure_reason=SUPPRESSED_REASON)
        self._set_status(status)
        return status

    async def _wait_for_operator(self) -> MessageStatus:
        """In the dead-letter queue: requeue, discard, a late ack, or expiry."""
        retention = timedelta(seconds=self._job.policy.dead_letter_retention_seconds)
        try:
            await workflow.wait_condition(
                lambda: self._operator_action is not None or self._acknowledged,
                timeout=retention,
            )
        except builtins.TimeoutError:
            return await self._finish(MessageStatus.EXPIRED)
        action = self._operator_action
        if self._acknowledged:
            return await self._finish(MessageStatus.DELIVERED)
        if action == DeadLetterAction.DISCARD:
            return await self._finish(MessageStatus.DISCARDED)
        await self._record(Transition(self._job.message_id, MessageStatus.QUEUED, retry_count=0))
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

    def _require_changeable(self) -> None:
        if self._stopped is not None or self._status not in CHANGEABLE_STATUSES:
            raise NotChangeable(self._stopped or self._status)

    async def _waited(self, condition: Callable[[], bool], wait: timedelta) -> bool | None:
        """Wait up to ``wait`` for ``condition``: True when it held, False when the time
        passed, ``None`` when the message was canceled meanwhile."""
        if wait > timedelta(0):
            with contextlib.suppress(builtins.TimeoutError):
                await workflow.wait_condition(
                    lambda: condition() or self._stopped is not None, timeout=wait
                )
        if self._stopped is not None:
            return None
        return condition()

    async def _expired_before_delivery(self) -> MessageStatus:
        validity = f"{self._job.policy.validity_seconds:g}s"
        return await self._dead_letter(
            f"validity of {validity} passed before delivery", FailureClass.EXPIRED
        )

    async def _dead_letter(
        self, reason: str, failure_class: FailureClass, ack_timeout_attempt: int | None = None
    ) -> MessageStatus:
        job = self._job
        self._dead_lettered_at = workflow.now()
        self._failed(f"{failure_class.value}: {reason}")
        return await self._record(
            Transition(
                job.message_id,
                MessageStatus.DEAD_LETTERED,
                failure_reason=reason,
                failure_class=failure_class,
                released_from_line=self._in_line and not job.policy.hold_line_on_dead_letter,
                ack_timeout_attempt=ack_timeout_attempt,
            )
        )

    async def _finish(
        self,
        status: MessageStatus,
        *,
        failure_reason: str | None = None,
        failure_class: FailureClass | None = None,
    ) -> MessageStatus:
        return await self._record(
            Transition(
                self._job.message_id,
                status,
                failure_reason=failure_reason,
                failure_class=failure_class,
            )
        )

    async def _record(self, transition: Transition) -> MessageStatus:
        """Write a transition of the main flow; the status the message has after it (a
        cancel may have finished it first: then that)."""
        recorded = await self._write(transition)
        if not recorded.applied and recorded.status in TERMINAL_STATUSES:
            self._stopped = recorded.status
        return self._status

    async def _write(self, transition: Transition) -> Recorded:
        recorded = await workflow.execute_local_activity_method(
            DeliveryActivities.record_transition,
            transition,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        self._set_status(recorded.status)
        await start_webhook_sends(recorded)
        return recorded

    def _set_status(self, status: MessageStatus) -> None:
        """Track the status, and keep the ``MessageStatus`` search attribute and the Web UI's
        current details up to date."""
        if status == self._status:
            return
        self._status = status
        workflow.upsert_search_attributes([MESSAGE_STATUS.value_set(status.value)])
        self._explain()

    def _failed(self, reason: str) -> None:
        self._last_failure = reason
        self._explain()

    def _explain(self) -> None:
        workflow.set_current_details(explain(self.status()))

    @workflow.query
    def status(self) -> MessageView:
        """Where the message stands and what an operator can do next."""
        job = self._job
        retention_ends = None
        if self._status == MessageStatus.DEAD_LETTERED and self._dead_lettered_at is not None:
            retention = timedelta(seconds=job.policy.dead_letter_retention_seconds)
            retention_ends = self._dead_lettered_at + retention
        return MessageView(
            job.message_id, self._status, self._last_failure, job.send_at, retention_ends
        )


def _describe(err: ActivityError) -> tuple[str, FailureClass]:
    """The reason and class of the failure that ended the last attempt."""
    cause = err.cause
    if isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_CLOSE:
        return "validity passed while retrying", FailureClass.EXPIRED
    if isinstance(cause, ApplicationError):
        is_permanent = cause.type == PermanentDeliveryError.__name__
        return cause.message, FailureClass.PERMANENT if is_permanent else FailureClass.TRANSIENT
    return str(cause or err), FailureClass.TRANSIENT
