"""FastAPI dependencies, as ``Annotated`` aliases the routes declare.

All of them are ``async def``, trivial as most are: FastAPI runs a plain ``def`` dependency
in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.auth import MISSING_KEY
from herald.api.services import Services
from herald.core.database import SessionFactory
from herald.core.errors import Forbidden, Unauthorized
from herald.core.scopes import Scope
from herald.core.settings import Settings
from herald.operations.keys import Principal
from herald.operations.workflows import WorkflowGateway

__all__ = [
    "AcksWriter",
    "Admin",
    "DeadLettersWriter",
    "MessagesReader",
    "MessagesWriter",
    "PrincipalDep",
    "ServicesDep",
    "SessionDep",
    "SessionsDep",
    "SettingsDep",
    "WebhooksWriter",
    "WorkflowsDep",
    "bearer",
    "scoped",
]


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_workflows(services: ServicesDep) -> WorkflowGateway:
    return services.workflows


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.sessions() as session:
        yield session


async def get_sessions(services: ServicesDep) -> SessionFactory:
    return services.sessions


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
SessionsDep = Annotated[SessionFactory, Depends(get_sessions)]
"""For routes that open several sessions (one per concurrent call)."""
WorkflowsDep = Annotated[WorkflowGateway, Depends(get_workflows)]

bearer = HTTPBearer(auto_error=False, description="An API key (shown once, at its creation)")


async def get_principal(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, as the request gate verified it before reading the body. ``_scheme``
    declares the bearer scheme in OpenAPI."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthorized(MISSING_KEY)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def scoped(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency answering the caller if its key has ``scope`` (or ``admin``), else 403
    naming the scope."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(scope):
            raise Forbidden(
                f"this API key lacks the scope `{scope}`, which allows: {scope.allows}; "
                "use a key that has it"
            )
        return principal

    return check


MessagesWriter = Annotated[Principal, Depends(scoped(Scope.MESSAGES_WRITE))]
MessagesReader = Annotated[Principal, Depends(scoped(Scope.MESSAGES_READ))]
DeadLettersWriter = Annotated[Principal, Depends(scoped(Scope.DEAD_LETTERS_WRITE))]
WebhooksWriter = Annotated[Principal, Depends(scoped(Scope.WEBHOOKS_WRITE))]
AcksWriter = Annotated[Principal, Depends(scoped(Scope.ACKS_WRITE))]
Admin = Annotated[Principal, Depends(scoped(Scope.ADMIN))]
