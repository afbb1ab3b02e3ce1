"""FastAPI dependencies, as ``Annotated`` aliases the routes declare."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.services import Services
from herald.api.workflows import WorkflowGateway
from herald.core.database import SessionFactory
from herald.core.errors import Unauthorized
from herald.core.settings import Settings

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


def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's API key; 401 unless it is one of ``HERALD_API_KEYS``."""
    if credentials is None:
        raise Unauthorized("send your API key as `Authorization: Bearer <key>`")
    presented = credentials.credentials.encode()
    if not any(secrets.compare_digest(presented, key.encode()) for key in settings.api_keys):
        raise Unauthorized("the API key is not one of this service's keys")
    return credentials.credentials
