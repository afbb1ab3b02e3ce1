"""API keys: created per tenant with scopes, shown once, stored as a SHA-256 hash, listed
by prefix, revoked; and who a presented key is (its :class:`Principal`)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.contract import DEFAULT_TENANT
from herald.core.errors import Forbidden, NotFound
from herald.core.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, utcnow
from herald.core.scopes import Scope
from herald.operations.tenants import require_tenant

__all__ = [
    "Principal",
    "bootstrap_principal",
    "create_key",
    "find_active_key",
    "hash_key",
    "list_keys",
    "revoke_key",
]

log = logging.getLogger(__name__)

ONLY_ADMIN_CHOOSES = "only an admin key may act for another tenant; leave `tenant` out"
TOKEN_PREFIX = "hk_"
PREFIX_LENGTH = 12
"""Characters of a key kept in clear (``hk_`` and nine more) to tell keys apart in listings."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (never the key), its tenant and its scopes."""

    key_id: str
    tenant_id: str
    scopes: frozenset[Scope]

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    def can(self, scope: Scope) -> bool:
        return self.is_admin or scope in self.scopes

    def sees(self, tenant_id: str) -> bool:
        """Whether the caller may see that tenant's data (else it answers as unknown)."""
        return self.is_admin or tenant_id == self.tenant_id

    def tenant_to_list(self, requested: str | None) -> str | None:
        """The tenant whose data a listing shows: the caller's own; an admin's choice, or
        every tenant (``None``)."""
        if self.is_admin:
            return requested
        if requested not in (None, self.tenant_id):
            raise Forbidden(ONLY_ADMIN_CHOOSES)
        return self.tenant_id

    def tenant_to_submit_to(self, requested: str | None) -> str:
        """Where a submit goes: the caller's tenant; an admin's choice, ``default`` unless
        it names one."""
        if self.is_admin:
            return requested or DEFAULT_TENANT
        if requested not in (None, self.tenant_id):
            raise Forbidden(ONLY_ADMIN_CHOOSES)
        return self.tenant_id

    @classmethod
    def of(cls, key: ApiKey) -> Principal:
        return cls(str(key.id), key.tenant_id, frozenset(Scope(scope) for scope in key.scopes))


def hash_key(token: str) -> str:
    """SHA-256 of the token: enough for a high-entropy secret (no salt or stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def bootstrap_principal(token: str) -> Principal:
    """A key of ``HERALD_API_KEYS``: an ``admin`` key of the tenant ``default``; its id is a
    short hash, so logs can tell bootstrap keys apart without showing them."""
    return Principal(f"bootstrap-{hash_key(token)[:12]}", DEFAULT_TENANT, frozenset({Scope.ADMIN}))


async def create_key(session: AsyncSession, request: ApiKeyCreate) -> ApiKeyCreated:
    """A new key for the tenant: the answer is the only place the key itself appears."""
    await require_tenant(session, request.tenant_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=request.tenant_id,
        name=request.name,
        prefix=token[:PREFIX_LENGTH],
        key_hash=hash_key(token),
        scopes=sorted(set(request.scopes)),
    )
    session.add(key)
    await session.commit()
    log.info(
        "api key created",
        extra={"key_id": str(key.id), "tenant": key.tenant_id, "scopes": ",".join(key.scopes)},
    )
    return ApiKeyCreated(**_public(key).model_dump(), key=token)


async def list_keys(session: AsyncSession, tenant_id: str | None = None) -> list[ApiKeyPublic]:
    """Every key (of ``tenant_id`` if given), newest first; revoked ones too."""
    query = select(ApiKey).order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))
    if tenant_id is not None:
        query = query.where(col(ApiKey.tenant_id) == tenant_id)
    return [_public(key) for key in await session.exec(query)]


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKeyPublic:
    """Revoke the key (idempotent: a revoked key keeps its first revocation time)."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"there is no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        await session.commit()
        log.info("api key revoked", extra={"key_id": str(key.id), "tenant": key.tenant_id})
    return _public(key)


async def find_active_key(session: AsyncSession, token: str) -> ApiKey | None:
    """The unrevoked key whose hash the token has, if any."""
    found = await session.exec(
        select(ApiKey).where(
            col(ApiKey.key_hash) == hash_key(token), col(ApiKey.revoked_at).is_(None)
        )
    )
    return found.first()


def _public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        tenant_id=key.tenant_id,
        name=key.name,
        prefix=key.prefix,
        scopes=[Scope(scope) for scope in key.scopes],
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )
