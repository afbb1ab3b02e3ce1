"""The FastAPI application: ``create_app(settings)``; no module-level state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from herald.api.auth import ApiKeyVerifier
from herald.api.docs import install_offline_docs
from herald.api.gate import RequestGate
from herald.api.openapi import (
    FORBIDDEN,
    UNAUTHORIZED,
    UNAVAILABLE,
    problem_responses,
    with_problem_schemas,
)
from herald.api.problems import install_problem_handlers
from herald.api.prometheus import ApiMetrics
from herald.api.routes import (
    acks,
    api_keys,
    caller,
    changes,
    circuit_breakers,
    dead_letters,
    health,
    messages,
    metrics,
    suppressions,
    tenants,
    webhooks,
)
from herald.api.services import Services
from herald.api.telemetry import ObservedRequests
from herald.console import router as console_router
from herald.core.background import supervised
from herald.core.database import create_engine, session_factory
from herald.core.metrics import RefreshedSummary
from herald.core.settings import Settings
from herald.core.temporal import connect
from herald.core.tracing import Tracing
from herald.operations.outbox import OutboxRelay
from herald.operations.ratelimit import RateLimits
from herald.operations.tenants import TenantDirectory
from herald.operations.workflows import WorkflowGateway

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
"""Every route under it needs an API key."""


class HeraldAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        return with_problem_schemas(super().openapi())


def create_app(settings: Settings) -> FastAPI:
    api_metrics = ApiMetrics()
    tracing = Tracing.from_settings(settings, "herald-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.require_database_url(),
            pool_size=settings.database_pool_size,
            pool_wait=settings.database_pool_wait_seconds,
        )
        sessions = session_factory(engine)
        client = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            lazy=True,
            interceptors=tracing.temporal_interceptors(),
        )
        directory = TenantDirectory(sessions, settings.api_key_cache_seconds)
        workflows = WorkflowGateway(client, sessions, settings, directory)
        relay = OutboxRelay(sessions, workflows, settings.outbox_interval_seconds)
        gauges = RefreshedSummary(sessions, settings, settings.metrics_refresh_seconds)
        app.state.api_key_verifier = ApiKeyVerifier(
            settings.api_keys, sessions, settings.api_key_cache_seconds
        )
        app.state.services = Services(
            settings,
            sessions,
            workflows,
            temporal=client,
            metrics=api_metrics,
            gauges=gauges,
            relay=relay,
            tenants=directory,
            rate_limits=RateLimits(engine, settings),
        )
        try:
            async with tracing, supervised(relay.loop, gauges.loop):
                yield
        finally:
            await engine.dispose()

    app = HeraldAPI(
        title="Herald",
        summary="Reliable one-way message delivery on Temporal",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(app)
    install_problem_handlers(app)
    app.add_middleware(
        RequestGate,
        max_body_bytes=settings.max_request_bytes,
        protected_prefix=API_PREFIX,
        signed_paths=frozenset({f"{API_PREFIX}/messages/ack"}),
    )
    # Outermost: refusals are counted and traced too.
    app.add_middleware(ObservedRequests, metrics=api_metrics, tracer=tracing.tracer)
    v1 = APIRouter(
        prefix=API_PREFIX, responses=problem_responses(UNAUTHORIZED, FORBIDDEN, UNAVAILABLE)
    )
    for routes in (
        messages,
        changes,
        acks,
        dead_letters,
        suppressions,
        circuit_breakers,
        metrics,
        tenants,
        api_keys,
        caller,
    ):
        v1.include_router(routes.router)
    v1.include_router(webhooks.router)
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(metrics.exposition_router)
    app.include_router(console_router)
    return app
