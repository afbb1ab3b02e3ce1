"""Tenants: the submitters sharing one deployment, each with its own limits and weight."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.database import DATABASE_UNAVAILABLE, SessionFactory
from herald.core.errors import Conflict, NotFound
from herald.core.models import DEFAULT_WEIGHT, Tenant, TenantCreate, TenantPublic

__all__ = ["TenantDirectory", "create_tenant", "list_tenants", "require_tenant"]

log = logging.getLogger(__name__)

CACHE_LIMIT = 10_000


async def create_tenant(session: AsyncSession, request: TenantCreate) -> TenantPublic:
    """A new tenant; 409 when the id is taken."""
    tenant = Tenant.model_validate(request)
    session.add(tenant)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"there is already a tenant {request.id!r}; pick another id") from None
    log.info("tenant created", extra={"tenant": tenant.id})
    return TenantPublic.model_validate(tenant)


async def list_tenants(session: AsyncSession) -> list[TenantPublic]:
    tenants = await session.exec(select(Tenant).order_by(col(Tenant.id)))
    return [TenantPublic.model_validate(tenant) for tenant in tenants]


async def require_tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"there is no tenant {tenant_id!r}; create it first (POST /v1/tenants)")
    return tenant


class TenantDirectory:
    """Tenants by id for the hot path (every submit needs its tenant's limits and weight),
    each remembered for ``cache_seconds``: a change of limits or weight reaches every API
    process within that time."""

    def __init__(
        self,
        sessions: SessionFactory,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._remembered: dict[str, tuple[Tenant | None, float]] = {}

    async def get(self, tenant_id: str) -> Tenant | None:
        now = self._clock()
        tenant, until = self._remembered.get(tenant_id, (None, now))
        if until > now:
            return tenant
        async with self._sessions() as session:
            tenant = await session.get(Tenant, tenant_id)
        if len(self._remembered) >= CACHE_LIMIT:
            self._remembered.clear()
        self._remembered[tenant_id] = (tenant, now + self._cache_seconds)
        return tenant

    async def weight(self, tenant_id: str) -> float:
        """The tenant's fairness weight; 1 for a tenant that is gone, or while the database
        cannot say (a start goes ahead: fairness is a share, not a guarantee)."""
        try:
            tenant = await self.get(tenant_id)
        except DATABASE_UNAVAILABLE as err:
            log.warning("tenant weight unavailable", extra={"tenant": tenant_id, "error": err})
            return DEFAULT_WEIGHT
        return tenant.weight if tenant is not None else DEFAULT_WEIGHT
