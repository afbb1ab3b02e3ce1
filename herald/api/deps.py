"""FastAPI dependencies, as ``Annotated`` aliases the routes declare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.auth import api_key_verifier
from herald.api.services import Services
from herald.core.database import SessionFactory
from herald.core.settings import Settings
from herald.operations.workflows import WorkflowGateway

__all__ = [
    "ServicesDep",
    "SessionDep",
    "SessionsDep",
    "SettingsDep",
    "WorkflowsDep",
    "require_api_key",
]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_workflows(services: ServicesDep) -> WorkflowGateway:
    return services.workflows


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.sessions() as session:
        yield session


def get_sessions(services: ServicesDep) -> SessionFactory:
    return services.sessions


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
SessionsDep = Annotated[SessionFactory, Depends(get_sessions)]
"""For routes that open several sessions (one per concurrent call)."""
WorkflowsDep = Annotated[WorkflowGateway, Depends(get_workflows)]

bearer = HTTPBearer(auto_error=False, description="One of HERALD_API_KEYS")


async def require_api_key(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's API key; 401 unless the app's ``ApiKeyVerifier`` accepts it.

    The request gate has refused a bad key before reading the body; this hands the key to the
    route (the rate limit is per key). ``_scheme`` declares the bearer scheme in OpenAPI; the
    verifier reads the raw header, so the gate and this check parse it alike.
    """
    return await api_key_verifier(request.app).verify(request.headers.get("Authorization"))
