"""``/health``: liveness of the process, readiness of what it depends on.

Both are unauthenticated, for load balancers and orchestrators.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import literal
from sqlmodel import select

from herald.api.deps import ServicesDep
from herald.api.openapi import NOT_READY, problem_responses
from herald.api.schemas import Readiness
from herald.api.services import Services
from herald.core.errors import ServiceUnavailable

__all__ = ["router"]

router = APIRouter(prefix="/health", tags=["health"])

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
"""Each dependency's bound: a check that hangs counts as a failure."""
OK = "ok"
FAILING = "failing"


async def _database(services: Services) -> None:
    async with services.sessions() as session:
        await session.exec(select(literal(1)))


async def _temporal(services: Services) -> None:
    serving = await services.temporal.service_client.check_health(
        timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS)
    )
    if not serving:
        raise RuntimeError("the frontend reports it is not serving")


async def _outbox(services: Services) -> None:
    relay = services.relay
    if relay.is_stale():
        raise RuntimeError(
            f"no good sweep for {relay.loop.seconds_since_success():.0f}s "
            f"(more than {relay.stale_after_seconds:g}s)"
        )


CHECKS: dict[str, Callable[[Services], Awaitable[None]]] = {
    "database": _database,
    "temporal": _temporal,
    "outbox_relay": _outbox,
}


async def _outcome(name: str, check: Awaitable[None]) -> str:
    """``ok``, or ``failing``: what went wrong is logged, not answered (the route is
    unauthenticated, and error texts can name hosts and users)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check
    except TimeoutError:
        log.warning("readiness check failed", extra={"check": name, "error": "no answer in time"})
        return FAILING
    except Exception as err:  # whatever fails, the dependency is not usable: report it
        log.warning("readiness check failed", extra={"check": name, "error": repr(err)})
        return FAILING
    return OK


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses=problem_responses(NOT_READY))
async def ready(services: ServicesDep) -> Readiness:
    """200 when PostgreSQL and Temporal each answer within 2 s (checked concurrently)."""
    outcomes = await asyncio.gather(
        *(_outcome(name, check(services)) for name, check in CHECKS.items())
    )
    checks = dict(zip(CHECKS, outcomes, strict=True))
    failing = [name for name, outcome in checks.items() if outcome != OK]
    if failing:
        raise ServiceUnavailable(
            f"not ready: {' and '.join(failing)} failing (see the API's log)",
            extensions={"checks": checks},
        )
    return Readiness(checks=checks)
