"""What the routes share for the life of the app, built in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

from herald.api.prometheus import ApiMetrics
from herald.core.database import SessionFactory
from herald.core.metrics import RefreshedSummary
from herald.core.settings import Settings
from herald.operations.outbox import OutboxRelay
from herald.operations.ratelimit import RateLimits
from herald.operations.tenants import TenantDirectory
from herald.operations.workflows import WorkflowGateway

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    sessions: SessionFactory
    workflows: WorkflowGateway
    temporal: Client
    """The lazily connected client behind ``workflows``, for the readiness check."""
    metrics: ApiMetrics
    gauges: RefreshedSummary
    """The system's numbers for ``GET /metrics``, refreshed in the background."""
    relay: OutboxRelay
    tenants: TenantDirectory
    rate_limits: RateLimits
