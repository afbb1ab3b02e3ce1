"""The API's side of Temporal: start a message's workflow, signal its acknowledgment."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import bindparam, case, func, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from herald.core.contract import (
    DeadLetterAction,
    DeliveryJob,
    DeliveryPolicy,
    MessageStatus,
    Priority,
    SequenceState,
    workflow_id_for,
)
from herald.core.database import DATABASE_UNAVAILABLE, SessionFactory, autocommit
from herald.core.errors import ServiceUnavailable
from herald.core.models import Message, utcnow
from herald.core.outcomes import WebhookSendJob, webhook_task_queue, webhook_workflow_id
from herald.core.settings import Settings
from herald.core.temporal import (
    RECIPIENT,
    message_search_attributes,
    message_summary,
    workflow_priority,
)
from herald.operations.bounded import map_bounded
from herald.operations.tenants import TenantDirectory
from herald.operations.webhooks import webhook_policy
from herald.workflows.delivery import MessageDelivery
from herald.workflows.sequence import RecipientSequence
from herald.workflows.webhooks import WebhookSend

__all__ = [
    "MAX_CONCURRENT_STARTS",
    "StartOutcome",
    "WorkflowGateway",
    "delivery_policy",
    "mark_queued",
    "starting_window",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CONCURRENT_STARTS = 50
"""Workflow starts in flight at once for one request."""
RPC_TIMEOUT = timedelta(seconds=3)
"""A Temporal that does not answer must not stall the API: the row stays ``pending``."""
START_MARGIN = timedelta(seconds=2)
"""Between a request's last start and the relay's first: the commit, and clocks that differ a
little between API replicas."""
UPDATE_TIMEOUT = timedelta(seconds=10)
"""An update answers once the workflow has recorded the new status."""
UPDATE_RETRY_SECONDS = 0.2


TEMPORAL_UNAVAILABLE = (RPCError, RPCTimeoutOrCancelledError, RuntimeError, TimeoutError)
"""A failed call, a client that never connected (``RuntimeError``), or no answer in time
(the client retries a refused connection on its own, so calls are also bounded here; an
update no worker took in time ends in ``RPCTimeoutOrCancelledError``)."""
UNREACHABLE_CODES = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


class StartOutcome(StrEnum):
    STARTED = "started"
    REFUSED = "refused"
    """Temporal answered, but did not take this start (a line at its signal limit, say)."""
    UNREACHABLE = "unreachable"
    """Temporal did not answer."""


def _start_failure(err: Exception) -> StartOutcome:
    if isinstance(err, RPCError) and err.status not in UNREACHABLE_CODES:
        return StartOutcome.REFUSED
    return StartOutcome.UNREACHABLE


def _raise_unless_finished(err: Exception) -> None:
    """A workflow that is gone (finished) is an answer; anything else means Temporal is not
    reachable right now."""
    if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
        return
    raise ServiceUnavailable(
        f"Temporal did not answer ({_reason(err)}); try again: an action is never taken twice"
    ) from err


def _reason(err: Exception) -> str:
    """What went wrong, in words: a timeout carries no message of its own."""
    if isinstance(err, TimeoutError):
        return "no reply in time"
    return str(err) or type(err).__name__


def starting_window(count: int) -> timedelta:
    """The longest a request takes to start the workflows of the ``count`` messages it stored:
    rounds of ``MAX_CONCURRENT_STARTS``, each start bounded by ``RPC_TIMEOUT``, and a margin.
    Until it has passed, the outbox relay leaves the rows to their request (``next_start_at``),
    so a batch still being started is not started a second time by the relay."""
    rounds = -(-count // MAX_CONCURRENT_STARTS)
    return rounds * RPC_TIMEOUT + START_MARGIN


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_retries=settings.max_retries,
        base_retry_delay_seconds=settings.base_retry_delay_seconds,
        max_retry_delay_seconds=settings.max_retry_delay_seconds,
        ack_timeout_seconds=settings.ack_timeout_seconds,
        attempt_timeout_seconds=settings.provider_timeout_seconds + 10,
        validity_seconds=settings.message_ttl_hours * 3600,
        dead_letter_retention_seconds=settings.dlq_retention_hours * 3600,
        hold_line_on_dead_letter=settings.strict_hold_on_dead_letter,
    )


class WorkflowGateway:
    def __init__(
        self,
        client: Client,
        sessions: SessionFactory,
        settings: Settings,
        tenants: TenantDirectory,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._tenants = tenants
        self._task_queue = settings.task_queue
        self._policy = delivery_policy(settings)
        self._sequence_history_limit = settings.sequence_history_limit
        self._webhook_policy = webhook_policy(settings)

    async def start(self, messages: Sequence[Message]) -> None:
        """Start the messages' workflows, a bounded number at a time, and mark those started
        ``queued`` in one update; a message Temporal did not take stays ``pending`` for the
        outbox relay. ``messages`` are updated to the status their rows have.

        A database that fails right after the starts leaves the rows ``pending`` too (the
        relay's next start of them is harmless), rather than failing a committed submit.
        """
        outcomes = await map_bounded(self.start_workflow, messages, MAX_CONCURRENT_STARTS)
        started = [
            message
            for message, outcome in zip(messages, outcomes, strict=True)
            if outcome is StartOutcome.STARTED
        ]
        if not started:
            return
        try:
            async with autocommit(self._sessions).connect() as connection:
                await mark_queued(connection, started)
        except DATABASE_UNAVAILABLE as err:
            log.warning("messages started but still marked pending", extra={"error": str(err)})

    async def start_workflow(self, message: Message) -> StartOutcome:
        """Start the message's workflow (a strict one joins its recipient's line), within
        ``RPC_TIMEOUT`` (see :func:`starting_window`). Starting twice is harmless: the workflow
        id is the message id's, and a line drops a sequence number it has already seen."""
        try:
            async with asyncio.timeout(RPC_TIMEOUT.total_seconds()):
                job = self._job(message, await self._tenants.weight(message.tenant_id))
                if message.sequence_number is None:
                    await self._start_alone(job)
                else:
                    await self._join_line(job)
        except WorkflowAlreadyStartedError:
            pass
        except TEMPORAL_UNAVAILABLE as err:
            outcome = _start_failure(err)
            log.warning(
                "message stays pending, Temporal did not start it",
                extra={
                    "message_id": str(message.id),
                    "outcome": outcome.value,
                    "error": _reason(err),
                },
            )
            return outcome
        return StartOutcome.STARTED

    def _job(self, message: Message, tenant_weight: float) -> DeliveryJob:
        """The workflow's input; a scheduled message's validity runs from its ``send_at``."""
        valid_from = max(message.created_at, message.send_at or message.created_at)
        return DeliveryJob(
            str(message.id),
            message.recipient,
            message.priority,
            self._policy,
            valid_from + timedelta(seconds=self._policy.validity_seconds),
            message.sequence_number,
            tenant_id=message.tenant_id,
            tenant_weight=tenant_weight,
            send_at=message.send_at,
        )

    async def _start_alone(self, job: DeliveryJob) -> None:
        await self._client.start_workflow(
            MessageDelivery.run,
            job,
            id=workflow_id_for(job.message_id),
            task_queue=self._task_queue,
            search_attributes=message_search_attributes(
                job.recipient, job.priority, _starting_status(job)
            ),
            priority=workflow_priority(job),
            static_summary=message_summary(job),
            rpc_timeout=RPC_TIMEOUT,
        )

    async def _join_line(self, job: DeliveryJob) -> None:
        """Signal-with-start the tenant's ``RecipientSequence`` to the recipient."""
        await self._client.start_workflow(
            RecipientSequence.run,
            SequenceState(job.recipient, self._sequence_history_limit, job.tenant_id),
            id=job.line.workflow_id,
            task_queue=self._task_queue,
            start_signal="enqueue",
            start_signal_args=[job],
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(RECIPIENT, job.recipient)]
            ),
            rpc_timeout=RPC_TIMEOUT,
        )

    async def start_webhook_sends(self, send_ids: Sequence[str]) -> None:
        """Start the ``WebhookSend`` of sends enqueued outside a workflow (a cancel of a
        message whose workflow had not started); a start Temporal refuses is logged, and its
        send stays ``pending``."""
        for send_id in send_ids:
            try:
                async with asyncio.timeout(RPC_TIMEOUT.total_seconds()):
                    await self._client.start_workflow(
                        WebhookSend.run,
                        WebhookSendJob(send_id, self._webhook_policy),
                        id=webhook_workflow_id(send_id),
                        task_queue=webhook_task_queue(self._task_queue),
                        rpc_timeout=RPC_TIMEOUT,
                    )
            except WorkflowAlreadyStartedError:
                pass
            except TEMPORAL_UNAVAILABLE as err:
                log.warning(
                    "webhook send not started", extra={"send_id": send_id, "error": _reason(err)}
                )

    async def acknowledge(self, message_id: str) -> bool:
        """Signal the acknowledgment; False when the workflow has already finished."""
        handle = self._client.get_workflow_handle(workflow_id_for(message_id))
        try:
            async with asyncio.timeout(RPC_TIMEOUT.total_seconds()):
                await handle.signal(MessageDelivery.acknowledge, rpc_timeout=RPC_TIMEOUT)
        except TEMPORAL_UNAVAILABLE as err:
            _raise_unless_finished(err)
            return False
        return True

    async def resolve_dead_letter(
        self, message_id: str, action: DeadLetterAction
    ) -> MessageStatus | None:
        """Requeue or discard through the workflow: its new status, or ``None`` when it is
        not a dead letter (any more) or its workflow has finished."""
        update = (
            MessageDelivery.requeue
            if action == DeadLetterAction.REQUEUE
            else MessageDelivery.discard
        )
        return await self._update(message_id, action.value, update)

    async def cancel(self, message_id: str) -> MessageStatus | None:
        """Cancel through the workflow: ``canceled``, or ``None`` when the message is with
        the provider or finished (or its workflow has)."""
        return await self._update(message_id, "cancel", MessageDelivery.cancel)

    async def change_priority(self, message_id: str, priority: Priority) -> Priority | None:
        """Change the priority through the workflow: the new one, or ``None`` when the
        message is with the provider or finished (or its workflow has)."""
        update = MessageDelivery.change_priority
        return await self._update(message_id, "priority", update, priority)

    async def _update(
        self, message_id: str, name: str, update: UpdateMethodMultiParam[..., T], *args: Any
    ) -> T | None:
        """Run the update: its answer, or ``None`` when the workflow refused it or has
        finished; 503 (``ServiceUnavailable``) when Temporal does not answer in time."""
        handle = self._client.get_workflow_handle(workflow_id_for(message_id))
        update_id = f"{name}-{uuid.uuid4()}"
        deadline = asyncio.get_running_loop().time() + UPDATE_TIMEOUT.total_seconds()
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    answer: T = await handle.execute_update(
                        update, args=list(args), id=update_id, rpc_timeout=UPDATE_TIMEOUT
                    )
                    return answer
            except WorkflowUpdateFailedError:
                return None
            except TEMPORAL_UNAVAILABLE as err:
                # Closed under the update ("aborted by closing workflow") is an answer, not
                # an outage; a workflow task that failed under it (a signal arrived as the
                # workflow tried to finish) is worth another try, with the same update id so
                # that an update already applied is not applied twice.
                if not await self._is_running(handle.id):
                    return None
                if asyncio.get_running_loop().time() >= deadline:
                    _raise_unless_finished(err)
                    return None
            await asyncio.sleep(UPDATE_RETRY_SECONDS)

    async def _is_running(self, workflow_id: str) -> bool:
        """Whether the workflow still runs; True when Temporal cannot tell (so the caller
        reports the outage)."""
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            async with asyncio.timeout(RPC_TIMEOUT.total_seconds()):
                description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except TEMPORAL_UNAVAILABLE as err:
            return not (isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND)
        return description.status == WorkflowExecutionStatus.RUNNING


def _starting_status(job: DeliveryJob) -> MessageStatus:
    if job.send_at is not None and job.send_at > utcnow():
        return MessageStatus.SCHEDULED
    return MessageStatus.QUEUED


_MARK_QUEUED = (
    update(Message)
    .where(col(Message.id).in_(bindparam("ids", expanding=True)))
    .where(col(Message.status) == MessageStatus.PENDING)
    .values(
        status=case(
            (col(Message.send_at) > func.now(), MessageStatus.SCHEDULED.value),
            else_=MessageStatus.QUEUED.value,
        ),
        updated_at=bindparam("now"),
    )
    .returning(col(Message.id), col(Message.status))
)
"""Built once: every submit runs it (``ids`` and ``now`` bound)."""


async def mark_queued(connection: AsyncConnection, messages: Sequence[Message]) -> None:
    """``pending`` → ``queued`` (``scheduled`` until a future ``send_at``) on ``connection``
    (in its transaction, if it has one), for the messages an activity has not already moved
    further; each message is updated to what its row says."""
    now = utcnow()
    by_id = {message.id: message for message in messages}
    queued = await connection.execute(_MARK_QUEUED, {"ids": list(by_id), "now": now})
    for message_id, status in queued.all():
        message = by_id.pop(message_id)
        message.status, message.updated_at = MessageStatus(status), now
    if not by_id:
        return
    further = await connection.execute(
        select(col(Message.id), col(Message.status), col(Message.updated_at)).where(
            col(Message.id).in_(by_id)
        )
    )
    for message_id, status, updated_at in further:
        by_id[message_id].status, by_id[message_id].updated_at = status, updated_at
