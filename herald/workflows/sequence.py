"""``RecipientSequence``: one recipient's strictly ordered line (DESIGN §7).

Fed by signal-with-start (``enqueue``), it runs the recipient's messages one at a time in
sequence-number order, each as a ``MessageDelivery`` child: message k+1 starts only once
message k's workflow has ended (delivered, or discarded / expired from the dead-letter
queue), so a retrying or dead-lettered head holds the line. Duplicates (a number already
passed or already waiting) are dropped; a number that has not arrived yet is waited for.
The line continues as new before its history grows large and ends after an idle hour.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from herald.activities.delivery import DeliveryActivities
    from herald.core.contract import DeliveryJob, SequenceState, workflow_id_for
    from herald.core.temporal import message_search_attributes, workflow_priority
    from herald.workflows.delivery import BOOKKEEPING_RETRY, BOOKKEEPING_TIMEOUT, MessageDelivery

__all__ = ["IDLE_TIMEOUT", "RecipientSequence"]

IDLE_TIMEOUT = timedelta(hours=1)


@workflow.defn
class RecipientSequence:
    @workflow.init
    def __init__(self, state: SequenceState) -> None:
        self._next = state.next_sequence_number
        self._waiting: dict[int, DeliveryJob] = {}
        for job in state.waiting:
            self.enqueue(job)

    @workflow.signal
    def enqueue(self, job: DeliveryJob) -> None:
        number = job.sequence_number
        if number is None or (self._next is not None and number < self._next):
            return  # not ordered, or already through the line: a duplicate start
        self._waiting.setdefault(number, job)

    @workflow.run
    async def run(self, state: SequenceState) -> None:
        if self._next is None:
            self._next = await self._head_of_line(state.recipient)
        self._waiting = {n: job for n, job in self._waiting.items() if n >= self._next}
        while await self._next_arrived():
            job = self._waiting.pop(self._next)
            await self._deliver(job)
            self._next += 1
            if workflow.info().get_current_history_length() >= state.history_limit:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    SequenceState(
                        state.recipient,
                        state.history_limit,
                        self._next,
                        list(self._waiting.values()),
                    )
                )

    async def _head_of_line(self, recipient: str) -> int:
        """A fresh run starts at the recipient's oldest unfinished strict message."""
        oldest = await workflow.execute_local_activity_method(
            DeliveryActivities.first_open_sequence_number,
            recipient,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        if oldest is not None:
            return oldest
        return min(self._waiting, default=1)

    async def _next_arrived(self) -> bool:
        """Wait for the head of the line; False once the line has been idle for an hour."""
        while True:
            try:
                await workflow.wait_condition(
                    lambda: self._next in self._waiting, timeout=IDLE_TIMEOUT
                )
            except TimeoutError:
                if not self._waiting:
                    return False
                continue  # an earlier number is still to come (its start may be pending)
            return True

    async def _deliver(self, job: DeliveryJob) -> None:
        """Run the message's own workflow to its end."""
        try:
            await workflow.execute_child_workflow(
                MessageDelivery.run,
                job,
                id=workflow_id_for(job.message_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                priority=workflow_priority(job.priority),
                search_attributes=message_search_attributes(job.recipient, job.priority),
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.warning(
                "message already has a workflow; the line moves on",
                extra={"message_id": job.message_id},
            )
        except ChildWorkflowError:
            workflow.logger.exception(
                "message workflow failed; the line moves on", extra={"message_id": job.message_id}
            )
