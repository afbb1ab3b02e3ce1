"""``WebhookSend``: one small workflow per outcome webhook send (DESIGN §11).

A message's workflow starts one per send its status write enqueued, as an abandoned child
(:func:`start_webhook_sends`), and goes on at once: the sends run on a task queue of their
own, and nothing in the message's workflow waits for them or fails with them. The send's
activity POSTs under a declarative retry policy; once the attempts are spent, or the endpoint
may not be called, the send is recorded ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from herald.activities.webhooks import REFUSED, WebhookActivities
    from herald.core.outcomes import (
        Recorded,
        SendGivenUp,
        WebhookPolicy,
        WebhookSendJob,
        WebhookSendState,
        webhook_task_queue,
        webhook_workflow_id,
    )

__all__ = ["WebhookSend", "send_retry_policy", "start_webhook_sends"]

RECORDING_MARGIN = timedelta(seconds=10)
"""An attempt's time beyond its POST's timeout: loading the send and recording its outcome."""
BOOKKEEPING_TIMEOUT = timedelta(seconds=10)
BOOKKEEPING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))
"""Giving up is written whenever the database answers."""


def send_retry_policy(policy: WebhookPolicy) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=policy.retry_delay(0),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=policy.max_retry_delay_seconds),
        maximum_attempts=policy.max_attempts,
        non_retryable_error_types=[REFUSED],
    )


@workflow.defn
class WebhookSend:
    @workflow.run
    async def run(self, job: WebhookSendJob) -> WebhookSendState:
        try:
            await workflow.execute_activity_method(
                WebhookActivities.post_event,
                job,
                start_to_close_timeout=timedelta(seconds=job.policy.timeout_seconds)
                + RECORDING_MARGIN,
                retry_policy=send_retry_policy(job.policy),
            )
        except ActivityError as err:
            await workflow.execute_local_activity_method(
                WebhookActivities.give_up,
                SendGivenUp(job.send_id, _reason(err, job.policy)),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY,
            )
            return WebhookSendState.FAILED
        return WebhookSendState.DELIVERED


async def start_webhook_sends(recorded: Recorded | None) -> None:
    """Start a ``WebhookSend`` for each send ``recorded`` names, on the sends' task queue,
    as children the calling workflow abandons: it waits for each start, never for a send."""
    if recorded is None or not recorded.webhook_sends:
        return
    task_queue = webhook_task_queue(workflow.info().task_queue)
    await asyncio.gather(
        *(
            _start(WebhookSendJob(send_id, recorded.webhook_policy), task_queue)
            for send_id in recorded.webhook_sends
        )
    )


async def _start(job: WebhookSendJob, task_queue: str) -> None:
    # Already started (by an earlier run of the recording): nothing to add.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            WebhookSend.run,
            job,
            id=webhook_workflow_id(job.send_id),
            task_queue=task_queue,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )


def _reason(err: ActivityError, policy: WebhookPolicy) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.type == REFUSED:
            return cause.message
        return f"given up after {policy.max_attempts} attempts; the last: {cause.message}"
    return f"given up after {policy.max_attempts} attempts; the last: {cause or err}"
