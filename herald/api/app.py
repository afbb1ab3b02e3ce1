"""The FastAPI application: ``create_app(settings)``; no module-level state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from herald.api.deps import require_api_key
from herald.api.problems import install_problem_handlers
from herald.api.routes import acks, circuit_breakers, dead_letters, health, messages
from herald.api.services import Services
from herald.api.workflows import WorkflowGateway
from herald.core.database import create_engine, session_factory
from herald.core.settings import Settings
from herald.core.temporal import connect

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.require_database_url())
        sessions = session_factory(engine)
        client = await connect(settings.temporal_address, settings.temporal_namespace, lazy=True)
        app.state.services = Services(
            settings, sessions, WorkflowGateway(client, sessions, settings)
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Herald",
        summary="Reliable one-way message delivery on Temporal",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])
    v1.include_router(messages.router)
    v1.include_router(acks.router)
    v1.include_router(dead_letters.router)
    v1.include_router(circuit_breakers.router)
    app.include_router(v1)
    app.include_router(health.router)
    return app
