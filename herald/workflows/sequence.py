"""``RecipientSequence``: one recipient's strictly ordered line (DESIGN §7).

Fed by signal-with-start (``enqueue``), the line starts each message's ``MessageDelivery`` as
a child as soon as it arrives, and gives the turn to one member at a time, in sequence-number
order: the head starts with its turn, a follower gets ``take_turn`` once every earlier member
has left. A member signals ``member_left`` when it no longer holds the line: delivered,
discarded, expired (also while waiting, when its validity passes), or dead-lettered. A dead
letter releases the line by default, as an SQS FIFO message group does; with
``HERALD_STRICT_HOLD_ON_DEAD_LETTER`` it holds it until it is requeued and delivered,
discarded or expired.

Duplicates (a number already in or through the line) are dropped; a number that has not
arrived yet (its start still pending in the outbox) is waited for. The line continues as new
whenever its history grows long or Temporal suggests it, with a head in flight or not,
carrying everything it holds; it ends after an idle hour.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from herald.activities.delivery import DeliveryActivities
    from herald.core.contract import DeliveryJob, Line, SequenceState, workflow_id_for
    from herald.core.temporal import (
        message_search_attributes,
        message_summary,
        workflow_priority,
    )
    from herald.workflows.delivery import BOOKKEEPING_RETRY, BOOKKEEPING_TIMEOUT, MessageDelivery

__all__ = ["IDLE_TIMEOUT", "RecipientSequence"]

IDLE_TIMEOUT = timedelta(hours=1)
"""An empty line ends after this long. A line that waits this long for its head checks that
the head can still come: a number whose start is pending may have been given up, and an
operator may have terminated the head's workflow."""


@workflow.defn
class RecipientSequence:
    @workflow.init
    def __init__(self, state: SequenceState) -> None:
        self._next = state.next_sequence_number
        self._arrivals = list(state.arrivals)
        self._members = dict(state.members)
        self._left = set(state.left)
        self._head_has_turn = state.head_has_turn

    @workflow.signal
    def enqueue(self, job: DeliveryJob) -> None:
        self._arrivals.append(job)

    @workflow.signal
    def member_left(self, sequence_number: int) -> None:
        """A member no longer holds the line (see ``MessageDelivery``)."""
        self._left.add(sequence_number)

    @workflow.run
    async def run(self, state: SequenceState) -> None:
        if self._next is None:
            self._next = await self._head_of_line(state.line)
        while True:
            await self._admit_arrivals(self._next)
            if not self._advance() or not await self._give_turn(self._next):
                continue
            if self._continue_as_new_due(state):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried(state))
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._arrivals)
                        or self._next in self._left
                        or self._continue_as_new_due(state)
                    ),
                    timeout=IDLE_TIMEOUT,
                )
            except TimeoutError:
                if not self._members and not self._arrivals:
                    return
                await self._check_head(state.line, self._next)

    async def _admit_arrivals(self, head: int) -> None:
        """Start the workflows of the messages that arrived (concurrently); the head starts
        with its turn, the others wait for theirs."""
        arrived, self._arrivals = self._arrivals, []
        admitted: list[DeliveryJob] = []
        for job in arrived:
            number = job.sequence_number
            if number is None or number < head or number in self._members or number in self._left:
                continue  # not ordered, or already in or through the line: a duplicate start
            self._members[number] = job.message_id
            is_head = number == head and not self._head_has_turn
            self._head_has_turn |= is_head
            admitted.append(replace(job, waits_for_turn=not is_head))
        await asyncio.gather(*(self._start(job) for job in admitted))

    async def _start(self, job: DeliveryJob) -> None:
        try:
            await workflow.start_child_workflow(
                MessageDelivery.run,
                job,
                id=workflow_id_for(job.message_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                priority=workflow_priority(job),
                search_attributes=message_search_attributes(job.recipient, job.priority),
                static_summary=message_summary(job),
            )
        except WorkflowAlreadyStartedError:
            # Started by an earlier line: it is signalled its turn like any member (and counts
            # as gone if that signal finds it closed).
            workflow.logger.warning(
                "message already has a workflow", extra={"message_id": job.message_id}
            )
            if job.sequence_number == self._next:
                self._head_has_turn = False

    def _advance(self) -> bool:
        """Move the head past the members that left; False when there is nothing to do
        (the caller loops again)."""
        for number in self._left:
            self._members.pop(number, None)
        assert self._next is not None
        while self._next in self._left:
            self._left.discard(self._next)
            self._next += 1
            self._head_has_turn = False
        self._left = {number for number in self._left if number > self._next}
        return not self._arrivals

    async def _give_turn(self, head: int) -> bool:
        """Signal the head its turn if it has not had it; False when the head turned out to
        be gone (its workflow closed), so it has left."""
        if self._head_has_turn or head not in self._members:
            return True
        self._head_has_turn = True
        member = workflow.get_external_workflow_handle(workflow_id_for(self._members[head]))
        try:
            await member.signal(MessageDelivery.take_turn)
        except Exception:  # its workflow is closed: it cannot hold the line
            workflow.logger.warning(
                "the head's workflow is gone; the line moves on",
                extra={"message_id": self._members[head]},
            )
            self._left.add(head)
            return False
        return True

    def _continue_as_new_due(self, state: SequenceState) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= state.history_limit
        )

    def _carried(self, state: SequenceState) -> SequenceState:
        return SequenceState(
            state.recipient,
            state.history_limit,
            state.tenant_id,
            self._next,
            self._arrivals,
            self._members,
            sorted(self._left),
            self._head_has_turn,
        )

    async def _head_of_line(self, line: Line) -> int:
        """A fresh run starts at the line's oldest message still in it."""
        oldest = await self._first_open_sequence_number(line)
        if oldest is not None:
            return oldest
        return min((job.sequence_number or 1 for job in self._arrivals), default=1)

    async def _check_head(self, line: Line, head: int) -> None:
        """After an hour without progress: skip a missing head that the database says is no
        longer open, or drop a head whose workflow was closed without leaving the line."""
        if head not in self._members:
            oldest = await self._first_open_sequence_number(line)
            waiting = [number for number in (oldest, *self._members) if number is not None]
            beyond = [number for number in waiting if number > head]
            if (oldest is None or oldest > head) and beyond:
                self._left.update(range(head, min(beyond)))
            return
        is_open = await workflow.execute_local_activity_method(
            DeliveryActivities.workflow_is_open,
            workflow_id_for(self._members[head]),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        if not is_open:
            self._left.add(head)

    async def _first_open_sequence_number(self, line: Line) -> int | None:
        return await workflow.execute_local_activity_method(
            DeliveryActivities.first_open_sequence_number,
            line,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
