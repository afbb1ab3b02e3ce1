"""``/v1/circuit-breakers``: the state of each provider's circuit breaker."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from herald.api.deps import Admin, SessionDep, SettingsDep
from herald.api.schemas import CircuitBreakerList, CircuitBreakerPublic
from herald.core.breaker_state import snapshot

__all__ = ["router"]

router = APIRouter(prefix="/circuit-breakers", tags=["circuit breakers"])


@router.get("")
async def list_circuit_breakers(
    session: SessionDep, settings: SettingsDep, _admin: Admin
) -> CircuitBreakerList:
    """Every provider that has been used, by name: its state, failure rate and when it opened
    (admin keys: the providers serve every tenant).

    An open breaker whose timeout has passed shows ``half_open``: the next delivery probes.
    """
    views = await snapshot(session, settings)
    return CircuitBreakerList(items=[CircuitBreakerPublic(**asdict(view)) for view in views])
