"""The worker: runs Herald's workflows and activities on the task queue."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from herald.activities.breaker import ProviderBreaker
from herald.activities.delivery import DeliveryActivities
from herald.activities.housekeeping import HousekeepingActivities
from herald.activities.projection import MessageProjection
from herald.activities.providers import HttpProvider
from herald.activities.webhooks import WebhookActivities, webhook_http_client
from herald.core.database import sessions
from herald.core.http_pool import ShardedClient
from herald.core.metrics import logging_metrics
from herald.core.outcomes import webhook_task_queue
from herald.core.settings import Settings
from herald.core.temporal import connect, prometheus_runtime
from herald.core.tracing import Tracing
from herald.operations.webhooks import webhook_policy
from herald.workflows.delivery import MessageDelivery
from herald.workflows.housekeeping import Housekeeping
from herald.workflows.sequence import RecipientSequence
from herald.workflows.webhooks import WebhookSend

__all__ = ["build_webhook_worker", "build_worker", "run_worker", "workflow_runner"]

log = logging.getLogger(__name__)


def workflow_runner(settings: Settings, *passthrough_modules: str) -> WorkflowRunner:
    """Unsandboxed unless ``HERALD_WORKFLOW_SANDBOX``: the test suite runs every workflow in
    the sandbox, so a non-deterministic call fails there; production spares its cost.

    In the sandbox, Herald's modules (and ``passthrough_modules``) pass through: they are
    deterministic or only imported for types (the workflows import the rest through
    ``imports_passed_through``), so it does not re-import them for every workflow run."""
    if not settings.workflow_sandbox:
        return UnsandboxedWorkflowRunner()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "herald", *passthrough_modules
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)


def build_worker(
    client: Client,
    settings: Settings,
    activities: DeliveryActivities,
    housekeeping: HousekeepingActivities,
) -> Worker:
    """At most ``max_concurrent_deliveries`` deliveries at once in this worker, and at most
    ``provider_max_per_second`` per second across all workers (enforced by the server).
    Housekeeping runs here too: its batches are rare and short."""
    pace = settings.provider_max_per_second
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[MessageDelivery, RecipientSequence, Housekeeping],
        activities=[
            activities.deliver,
            activities.record_transition,
            activities.first_open_sequence_number,
            activities.workflow_is_open,
            activities.reprioritize,
            housekeeping.purge,
        ],
        max_concurrent_activities=settings.max_concurrent_deliveries,
        workflow_runner=workflow_runner(settings),
        max_task_queue_activities_per_second=pace,
        # An eagerly started activity skips the task queue, and so its rate limit.
        disable_eager_activity_execution=pace is not None,
    )


def build_webhook_worker(
    client: Client, settings: Settings, activities: WebhookActivities
) -> Worker:
    """Outcome webhook sends, on a task queue of their own with their own slots
    (``HERALD_WEBHOOK_MAX_CONCURRENT_SENDS``): a slow endpoint never takes a delivery's."""
    return Worker(
        client,
        task_queue=webhook_task_queue(settings.task_queue),
        workflows=[WebhookSend],
        activities=[activities.post_event, activities.give_up],
        max_concurrent_activities=settings.webhook_max_concurrent_sends,
        workflow_runner=workflow_runner(settings),
    )


def http_client(settings: Settings) -> ShardedClient:
    """One client for every delivery, its connections sized to the concurrency cap."""
    return ShardedClient(settings.max_concurrent_deliveries)


def http_provider(settings: Settings, client: ShardedClient, tracing: Tracing) -> HttpProvider:
    return HttpProvider(
        client,
        settings.effective_provider_url,
        settings.require_provider_secret(),
        settings.provider_timeout_seconds,
        tracing.tracer,
    )


def sdk_runtime(settings: Settings) -> Runtime | None:
    """The SDK runtime serving its metrics on ``HERALD_WORKER_METRICS_PORT``; ``None`` (the
    default runtime, no endpoint) when that is unset. One per process: the port is bound."""
    port = settings.worker_metrics_port
    return prometheus_runtime(settings.api_host, port) if port is not None else None


async def run_worker(settings: Settings) -> None:
    """Run until cancelled; cancelling shuts the worker down gracefully. Logs the metrics
    summary every ``HERALD_METRICS_LOG_INTERVAL_SECONDS`` meanwhile."""
    async with (
        Tracing.from_settings(settings, "herald-worker") as tracing,
        # Activities retry on a dead connection, so no ping on every checkout.
        sessions(
            settings.require_database_url(),
            pool_size=settings.database_pool_size,
            pool_wait=settings.database_pool_wait_seconds,
            ping_after_idle=None,
        ) as session_factory,
        http_client(settings) as http,
        webhook_http_client() as webhook_http,
        logging_metrics(session_factory, settings),
    ):
        client = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            runtime=sdk_runtime(settings),
            interceptors=tracing.temporal_interceptors(),
        )
        provider = http_provider(settings, http, tracing)
        breaker = ProviderBreaker.from_settings(session_factory, provider.name, settings)
        activities = DeliveryActivities(
            MessageProjection(session_factory, breaker), provider, breaker, webhook_policy(settings)
        )
        webhook_activities = WebhookActivities(
            session_factory,
            webhook_http,
            allow_private_networks=settings.webhooks_allow_private_networks,
        )
        workers = [
            build_worker(client, settings, activities, HousekeepingActivities(session_factory)),
            build_webhook_worker(client, settings, webhook_activities),
        ]
        log.info(
            "worker on task queue %r delivering to %s",
            settings.task_queue,
            settings.effective_provider_url,
        )
        # One stops, both stop: a TaskGroup cancels the other.
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                group.create_task(worker.run())
