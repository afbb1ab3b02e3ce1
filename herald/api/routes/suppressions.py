"""``/v1/suppressions``: a tenant's suppression list (recipients who opted out)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, status

from herald.api.deps import SessionDep, scoped
from herald.api.openapi import INVALID, READING_A_BODY, ProblemAnswer, problem_responses
from herald.api.queries import Pagination, TenantQuery
from herald.api.schemas import SuppressionPage
from herald.core.models import E164, SuppressionCreate, SuppressionPublic
from herald.core.scopes import Scope
from herald.operations.keys import Principal
from herald.operations.suppressions import lift, list_suppressions, suppress

__all__ = ["router"]

router = APIRouter(prefix="/suppressions", tags=["suppressions"])

SuppressionsWriter = Annotated[Principal, Depends(scoped(Scope.SUPPRESSIONS_WRITE))]
NOT_SUPPRESSED = ProblemAnswer(
    status.HTTP_404_NOT_FOUND, "The recipient is not on the tenant's suppression list"
)


NO_SUCH_TENANT = ProblemAnswer(status.HTTP_404_NOT_FOUND, "There is no tenant with this id")


@router.put("/{recipient}", responses=problem_responses(*READING_A_BODY, NO_SUCH_TENANT))
async def put(
    recipient: E164,
    session: SessionDep,
    principal: SuppressionsWriter,
    body: Annotated[SuppressionCreate | None, Body()] = None,
    tenant: TenantQuery = None,
) -> SuppressionPublic:
    """Suppress the recipient (idempotent): its messages of this tenant, submitted or still
    to come, end `suppressed` and are never sent. An admin key acts for `tenant`
    (default: `default`)."""
    tenant_id = principal.tenant_to_submit_to(tenant)
    reason = body.reason if body is not None else None
    return await suppress(session, tenant_id, recipient, reason)


@router.get("", responses=problem_responses(INVALID))
async def list_all(
    session: SessionDep,
    principal: SuppressionsWriter,
    pagination: Annotated[Pagination, Depends()],
    tenant: TenantQuery = None,
) -> SuppressionPage:
    """The tenant's suppressions (an admin's: every tenant's, or `tenant`'s), newest first."""
    offset = (pagination.page - 1) * pagination.page_size
    items, total = await list_suppressions(
        session, principal.tenant_to_list(tenant), offset, pagination.page_size
    )
    return SuppressionPage(
        items=items, total=total, page=pagination.page, page_size=pagination.page_size
    )


@router.delete(
    "/{recipient}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NOT_SUPPRESSED, INVALID),
)
async def delete(
    recipient: E164, session: SessionDep, principal: SuppressionsWriter, tenant: TenantQuery = None
) -> None:
    """Lift the recipient's suppression: its next messages are sent again."""
    await lift(session, principal.tenant_to_submit_to(tenant), recipient)
