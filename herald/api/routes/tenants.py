"""``/v1/tenants``: the submitters sharing this deployment (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter, status

from herald.api.deps import Admin, SessionDep
from herald.api.openapi import READING_A_BODY, ProblemAnswer, problem_responses
from herald.core.models import TenantCreate, TenantPublic
from herald.operations.tenants import create_tenant, list_tenants

__all__ = ["router"]

router = APIRouter(prefix="/tenants", tags=["tenants and keys"])

TAKEN = ProblemAnswer(status.HTTP_409_CONFLICT, "There is already a tenant with this id")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*READING_A_BODY, TAKEN),
)
async def create(body: TenantCreate, session: SessionDep, _admin: Admin) -> TenantPublic:
    """A new tenant, with its own rate limits (unset: the `HERALD_RATE_LIMIT_*` defaults) and
    its fairness `weight` against the other tenants (default 1)."""
    return await create_tenant(session, body)


@router.get("")
async def list_all(session: SessionDep, _admin: Admin) -> list[TenantPublic]:
    """Every tenant, by id."""
    return await list_tenants(session)
