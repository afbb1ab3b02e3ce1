"""Metrics: ``/v1/metrics`` (JSON summary) and ``/metrics`` (Prometheus exposition).

Both show the system's numbers from PostgreSQL (:mod:`herald.core.metrics`), so every API
process answers the same: ``/v1/metrics`` computes them per request (it needs a key),
``/metrics`` (open to scrapers) serves the ones its process refreshes on an interval.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response

from herald.api.deps import MessagesReader, ServicesDep, SessionDep, SettingsDep
from herald.api.openapi import INVALID, problem_responses
from herald.api.queries import TenantQuery
from herald.api.schemas import MetricsSummaryPublic
from herald.core.metrics import summarize

__all__ = ["exposition_router", "router"]

router = APIRouter(prefix="/metrics", tags=["metrics"])
"""Under ``/v1``, authenticated."""
exposition_router = APIRouter(tags=["metrics"])
"""At the root, unauthenticated, where Prometheus scrapes by default."""


@router.get("", responses=problem_responses(INVALID))
async def metrics_summary(
    session: SessionDep,
    settings: SettingsDep,
    principal: MessagesReader,
    tenant: TenantQuery = None,
) -> MetricsSummaryPublic:
    """Throughput, latency, retry and failure rates over the sliding window
    (`HERALD_METRICS_WINDOW_SECONDS`); queue depth and circuit breakers as they are now. The
    caller's tenant's messages (an admin's: every tenant's, or `tenant`'s)."""
    summary = await summarize(session, settings, principal.tenant_to_list(tenant))
    return MetricsSummaryPublic(**asdict(summary))


@exposition_router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {}, "application/openmetrics-text": {}},
            "description": "Prometheus exposition",
        },
    },
)
async def prometheus_metrics(request: Request, services: ServicesDep) -> Response:
    """The `herald_` series: the summary's numbers as gauges (recomputed from PostgreSQL
    every `HERALD_METRICS_REFRESH_SECONDS`, not per scrape), and this API process's request
    counters and latency histograms. Text format, or OpenMetrics when the scraper asks."""
    gauges = services.gauges
    # `Accept` is read as sent, not declared: a header parameter would document a 422 that no
    # value can cause.
    accept = request.headers.get("accept")
    body, content_type = services.metrics.exposition(gauges.latest, gauges.age_seconds(), accept)
    return Response(body, media_type=content_type)
