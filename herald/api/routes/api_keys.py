"""``/v1/api-keys``: tenants' API keys with their scopes (admin keys only).

A key is shown once, in the answer that creates it; PostgreSQL keeps only its SHA-256 and a
short prefix for listings. A revoked key stops working on every API process within
``HERALD_API_KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from herald.api.deps import Admin, SessionDep
from herald.api.openapi import INVALID, READING_A_BODY, ProblemAnswer, problem_responses
from herald.api.queries import TenantQuery
from herald.core.models import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from herald.operations.keys import create_key, list_keys, revoke_key

__all__ = ["router"]

router = APIRouter(prefix="/api-keys", tags=["tenants and keys"])

NO_SUCH_KEY = ProblemAnswer(status.HTTP_404_NOT_FOUND, "There is no API key with this id")
NO_SUCH_TENANT = ProblemAnswer(status.HTTP_404_NOT_FOUND, "There is no tenant with this id")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*READING_A_BODY, NO_SUCH_TENANT),
)
async def create(body: ApiKeyCreate, session: SessionDep, _admin: Admin) -> ApiKeyCreated:
    """A new key for a tenant, with its scopes. `key` is in this answer only: keep it."""
    return await create_key(session, body)


@router.get("", responses=problem_responses(INVALID))
async def list_all(
    session: SessionDep, _admin: Admin, tenant: TenantQuery = None
) -> list[ApiKeyPublic]:
    """Every key (or `tenant`'s), newest first, revoked ones too; never the key itself."""
    return await list_keys(session, tenant)


@router.delete("/{key_id}", responses=problem_responses(NO_SUCH_KEY, INVALID))
async def revoke(key_id: uuid.UUID, session: SessionDep, _admin: Admin) -> ApiKeyPublic:
    """Revoke the key: refused by every API process within `HERALD_API_KEY_CACHE_SECONDS`.
    Revoking it again changes nothing."""
    return await revoke_key(session, key_id)
