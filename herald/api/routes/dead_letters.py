"""``/v1/dead-letters``: list, requeue and discard dead-lettered messages."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import col

from herald.api.deps import (
    DeadLettersWriter,
    MessagesReader,
    SessionDep,
    SessionsDep,
    WorkflowsDep,
)
from herald.api.openapi import (
    INVALID,
    NOT_FOUND,
    READING_A_BODY,
    STATUS_CONFLICT,
    problem_responses,
)
from herald.api.queries import (
    Pagination,
    TenantQuery,
    page_of_messages,
    sort_order,
    tenant_condition,
)
from herald.api.schemas import (
    ActionResults,
    DeadLetterOutcome,
    DeadLetterResult,
    MessageIds,
    MessagePage,
)
from herald.core.contract import DeadLetterAction, FailureClass, MessageStatus
from herald.core.models import E164Query, Message
from herald.operations.actions import raise_for_refusal, resolve_dead_letters

__all__ = ["router"]

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])

ON_ONE = problem_responses(
    NOT_FOUND, STATUS_CONFLICT.meaning("The message is not dead-lettered"), INVALID
)
"""What an action on one dead letter can answer besides its result."""


class DeadLetterSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    LAST_RETRY_AT = "last_retry_at"
    LAST_RETRY_AT_DESC = "-last_retry_at"
    RETRY_COUNT = "retry_count"
    RETRY_COUNT_DESC = "-retry_count"


@router.get("", responses=problem_responses(INVALID))
async def list_dead_letters(
    session: SessionDep,
    principal: MessagesReader,
    pagination: Annotated[Pagination, Depends()],
    sort: DeadLetterSort = DeadLetterSort.CREATED_AT_DESC,
    failure_class: FailureClass | None = None,
    recipient: E164Query | None = None,
    tenant: TenantQuery = None,
) -> MessagePage:
    """The caller's tenant's dead-lettered messages (an admin's: every tenant's, or
    `tenant`'s), newest first unless `sort` says otherwise."""
    return await page_of_messages(
        session,
        pagination,
        sort_order(sort),
        tenant_condition(principal, tenant),
        col(Message.status) == MessageStatus.DEAD_LETTERED,
        col(Message.failure_class) == failure_class if failure_class else None,
        col(Message.recipient) == recipient if recipient else None,
    )


@router.post("/requeue", responses=problem_responses(*READING_A_BODY))
async def requeue_many(
    body: MessageIds,
    sessions: SessionsDep,
    workflows: WorkflowsDep,
    principal: DeadLettersWriter,
) -> ActionResults[DeadLetterOutcome]:
    """A result per id: `requeued`, `not_found` or `not_dead_lettered`."""
    results = await resolve_dead_letters(
        sessions, workflows, body.message_ids, DeadLetterAction.REQUEUE, principal
    )
    return ActionResults(results=results)


@router.post("/{message_id}/requeue", responses=ON_ONE)
async def requeue_one(
    message_id: uuid.UUID,
    sessions: SessionsDep,
    workflows: WorkflowsDep,
    principal: DeadLettersWriter,
) -> DeadLetterResult:
    """Deliver again with the retry count reset; 409 unless the message is dead-lettered."""
    [result] = await resolve_dead_letters(
        sessions, workflows, [message_id], DeadLetterAction.REQUEUE, principal
    )
    return raise_for_refusal(result, "dead-lettered")


@router.delete("/{message_id}", responses=ON_ONE)
async def discard(
    message_id: uuid.UUID,
    sessions: SessionsDep,
    workflows: WorkflowsDep,
    principal: DeadLettersWriter,
) -> DeadLetterResult:
    """Status `discarded`; the row is kept for audit. 409 unless the message is
    dead-lettered."""
    [result] = await resolve_dead_letters(
        sessions, workflows, [message_id], DeadLetterAction.DISCARD, principal
    )
    return raise_for_refusal(result, "dead-lettered")
