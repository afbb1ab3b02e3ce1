"""``/v1/messages``: submit (one or a batch), read and list messages."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status
from fastapi.exceptions import RequestValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.batches import accept_batch, enforce_batch_limit, refuse_repeated_keys
from herald.api.deps import MessagesReader, MessagesWriter, ServicesDep, SessionDep
from herald.api.openapi import (
    INVALID,
    NOT_FOUND,
    RATE_LIMITED,
    READING_A_BODY,
    TOO_LARGE,
    ProblemAnswer,
    problem_responses,
)
from herald.api.queries import (
    Pagination,
    TenantQuery,
    page_of_messages,
    sort_order,
    tenant_condition,
)
from herald.api.schedules import refuse_bad_schedules
from herald.api.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    AttemptList,
    BatchRequest,
    BatchResult,
    MessagePage,
    WebhookSendList,
)
from herald.api.services import Services
from herald.core.contract import MessageStatus, Priority
from herald.core.errors import NotFound
from herald.core.models import (
    Attempt,
    AttemptPublic,
    E164Query,
    Message,
    MessagePublic,
    MessageSubmit,
    Tenant,
)
from herald.operations.idempotency import Draft, store_once
from herald.operations.keys import Principal
from herald.operations.webhooks import sends_of_message

__all__ = ["router"]

router = APIRouter(prefix="/messages", tags=["messages"])

NO_TENANT = "there is no tenant %r; an admin creates it with POST /v1/tenants"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Up to 255 printable characters; generated when absent",
    ),
]


SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {
        "model": MessagePublic,
        "description": "Replay: this `Idempotency-Key` already stored this request's message; "
        "nothing new was stored or started",
        "headers": {"Idempotent-Replayed": {"description": "`true`", "schema": {"type": "string"}}},
    },
    status.HTTP_202_ACCEPTED: {"description": "Stored durably; its delivery has started"},
    **problem_responses(
        ProblemAnswer(
            status.HTTP_409_CONFLICT,
            "The `Idempotency-Key` is held by a different request until it expires",
        ),
        *READING_A_BODY,
        RATE_LIMITED,
    ),
}


async def submitting_tenant(
    services: Services, principal: Principal, requested: str | None
) -> Tenant:
    """The tenant a submit stores its messages for (see ``tenant_choice``); 422 when an
    admin names a tenant that does not exist."""
    tenant_id = principal.tenant_to_submit_to(requested)
    tenant = await services.tenants.get(tenant_id)
    if tenant is None:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "tenant_id"), "msg": NO_TENANT % tenant_id}]
        )
    return tenant


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=SUBMIT_RESPONSES)
async def submit_message(
    body: MessageSubmit,
    response: Response,
    session: SessionDep,
    services: ServicesDep,
    principal: MessagesWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MessagePublic:
    """Commit the message, then start its delivery; 202 means it is stored durably.

    With an ``Idempotency-Key`` its tenant used within ``HERALD_IDEMPOTENCY_TTL_HOURS``, the
    same body answers 200 with the original message and starts nothing; another body answers
    409. It counts against its tenant's rate limit (429 over it; ``high`` against a budget of
    its own).
    """
    refuse_bad_schedules([body], services.settings, in_batch=False)
    tenant = await submitting_tenant(services, principal, body.tenant_id)
    await services.rate_limits.charge(tenant, [body])
    draft = Draft.of(body, services.settings, idempotency_key, tenant.id)
    submission = await store_once(session, draft, services.settings)
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    else:
        await services.workflows.start([submission.message])
    return MessagePublic.of(submission.message)


BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_202_ACCEPTED: {"description": "Stored durably, a result per item"},
    **problem_responses(
        *READING_A_BODY,
        TOO_LARGE.meaning(
            "More items than `HERALD_BATCH_SIZE_LIMIT`, or a body over "
            "`HERALD_MAX_REQUEST_BYTES`; nothing was stored"
        ),
        INVALID.meaning(
            "An invalid item (each listed by `index` and `field`), or two items with one "
            "`idempotency_key`; nothing was stored"
        ),
        RATE_LIMITED,
    ),
}


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses=BATCH_RESPONSES,
    dependencies=[Depends(enforce_batch_limit)],
)
async def submit_batch(
    body: BatchRequest,
    session: SessionDep,
    services: ServicesDep,
    principal: MessagesWriter,
) -> BatchResult:
    """Validate every item, commit them all in one transaction, then start their deliveries.

    An item with an `idempotency_key` behaves as a single submit with that header: within
    the key's TTL the same item replays its original message (`replayed`), another one fails
    with an `error`, and the other items are stored all the same. An item whose workflow
    Temporal did not start is stored all the same and answered `pending`. The items count
    against the tenant's rate limits (`high` ones against their own): over either, nothing is
    stored (429).
    """
    refuse_repeated_keys(body.messages)
    refuse_bad_schedules(body.messages, services.settings, in_batch=True)
    tenant = await submitting_tenant(services, principal, body.tenant_id)
    await services.rate_limits.charge(tenant, body.messages)
    return await accept_batch(
        body.messages, session, services.settings, services.workflows, tenant.id
    )


@router.get("/{message_id}", responses=problem_responses(NOT_FOUND, INVALID))
async def get_message(
    message_id: uuid.UUID, session: SessionDep, principal: MessagesReader
) -> MessagePublic:
    """The message, if it is the caller's tenant's (another tenant's answers 404 too)."""
    return MessagePublic.of(await visible_message(session, principal, message_id))


async def visible_message(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID
) -> Message:
    """The message if the caller may see it; 404 for another tenant's, as for an unknown id."""
    message = await session.get(Message, message_id)
    if message is None or not principal.sees(message.tenant_id):
        raise NotFound(f"there is no message {message_id}")
    return message


@router.get("/{message_id}/attempts", responses=problem_responses(NOT_FOUND, INVALID))
async def list_attempts(
    message_id: uuid.UUID, session: SessionDep, principal: MessagesReader
) -> AttemptList:
    """Every delivery attempt, oldest first, with its outcome (`accepted`, `failed`,
    `deferred`, `ack_timeout`), HTTP status, duration and reason."""
    await visible_message(session, principal, message_id)
    attempts = await session.exec(
        select(Attempt).where(col(Attempt.message_id) == message_id).order_by(col(Attempt.id))
    )
    return AttemptList(
        items=[AttemptPublic.model_validate(a, from_attributes=True) for a in attempts]
    )


@router.get("/{message_id}/webhook-sends", responses=problem_responses(NOT_FOUND, INVALID))
async def list_webhook_sends(
    message_id: uuid.UUID, session: SessionDep, principal: MessagesReader
) -> WebhookSendList:
    """Every outcome webhook event of the message sent (or being sent) to its tenant's
    endpoints, oldest first: the endpoint, the send's state, attempts and last answer."""
    await visible_message(session, principal, message_id)
    return WebhookSendList(items=await sends_of_message(session, message_id))


class MessageSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"


@router.get("", responses=problem_responses(INVALID))
async def list_messages(
    session: SessionDep,
    principal: MessagesReader,
    pagination: Annotated[Pagination, Depends()],
    sort: MessageSort = MessageSort.CREATED_AT_DESC,
    status: MessageStatus | None = None,
    recipient: E164Query | None = None,
    priority: Priority | None = None,
    tenant: TenantQuery = None,
) -> MessagePage:
    """The caller's tenant's messages (an admin's: every tenant's, or `tenant`'s), newest
    first unless `sort` says otherwise."""
    return await page_of_messages(
        session,
        pagination,
        sort_order(sort),
        tenant_condition(principal, tenant),
        col(Message.status) == status if status else None,
        col(Message.recipient) == recipient if recipient else None,
        col(Message.priority) == priority if priority else None,
    )
