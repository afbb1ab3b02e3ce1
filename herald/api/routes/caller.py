"""``/v1/me``: who the presented API key is and what it may do, for clients such as the
operator console that show only what a key allows."""

from __future__ import annotations

from fastapi import APIRouter

from herald.api.deps import PrincipalDep, SettingsDep
from herald.api.schemas import Caller

__all__ = ["router"]

router = APIRouter(prefix="/me", tags=["tenants and keys"])


@router.get("")
async def whoami(principal: PrincipalDep, settings: SettingsDep) -> Caller:
    """The key's tenant and scopes (any valid key may ask). Admin keys also get the Temporal
    Web UI's address (`HERALD_TEMPORAL_UI_URL`), which shows every tenant's workflows."""
    return Caller(
        key_id=principal.key_id,
        tenant_id=principal.tenant_id,
        scopes=sorted(principal.scopes),
        temporal_ui_url=settings.temporal_ui_url if principal.is_admin else None,
        temporal_namespace=settings.temporal_namespace,
    )
