"""Temporal connection and Herald's search attributes (DESIGN §7)."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Interceptor
from temporalio.common import Priority as TaskPriority
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from herald.core.contract import DeliveryJob, MessageStatus, Priority
from herald.core.payloads import DATA_CONVERTER

__all__ = [
    "MESSAGE_PRIORITY",
    "MESSAGE_STATUS",
    "RECIPIENT",
    "SEARCH_ATTRIBUTES",
    "connect",
    "delivery_priority",
    "message_search_attributes",
    "message_summary",
    "prometheus_runtime",
    "register_search_attributes",
    "workflow_priority",
]

MESSAGE_STATUS = SearchAttributeKey.for_keyword("MessageStatus")
RECIPIENT = SearchAttributeKey.for_keyword("Recipient")
MESSAGE_PRIORITY = SearchAttributeKey.for_keyword("MessagePriority")
SEARCH_ATTRIBUTES = (MESSAGE_STATUS, RECIPIENT, MESSAGE_PRIORITY)


def message_search_attributes(
    recipient: str, priority: Priority, status: MessageStatus = MessageStatus.QUEUED
) -> TypedSearchAttributes:
    """What the Web UI filters a message's workflow by."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(MESSAGE_STATUS, status.value),
            SearchAttributePair(RECIPIENT, recipient),
            SearchAttributePair(MESSAGE_PRIORITY, priority.value),
        ]
    )


def message_summary(job: DeliveryJob) -> str:
    """The one line the Web UI shows for a message's workflow (its static summary)."""
    order = (
        f"strict, #{job.sequence_number} of {job.line.workflow_id}"
        if job.sequence_number is not None
        else "best effort"
    )
    scheduled = f" · scheduled for {job.send_at.isoformat()}" if job.send_at else ""
    return (
        f"To {job.recipient} · {job.priority.value} priority · {order} · tenant "
        f"{job.tenant_id}{scheduled}"
    )


def workflow_priority(job: DeliveryJob) -> TaskPriority:
    """Workflow tasks: strict priority keys (1, 3, 5), so a high message starts first, and
    within a priority the tenants share by weight (one tenant's backlog does not queue
    another's messages behind it)."""
    return TaskPriority(
        priority_key=job.priority.task_priority_key,
        fairness_key=job.tenant_id,
        fairness_weight=job.tenant_weight,
    )


def delivery_priority(job: DeliveryJob) -> TaskPriority:
    """Delivery activities, the scarce capacity: one priority key, and a fairness key per
    tenant and priority weighted ``tenant weight * (10, 5, 1)``. Within a tenant ``high``
    overtakes a backlog and ``low`` keeps a share, never starved; within a priority the
    tenants share in proportion to their weights."""
    return TaskPriority(
        priority_key=Priority.NORMAL.task_priority_key,
        fairness_key=f"{job.tenant_id}:{job.priority.value}",
        fairness_weight=job.tenant_weight * job.priority.fairness_weight,
    )


async def connect(
    address: str,
    namespace: str,
    *,
    lazy: bool = False,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to Temporal; ``lazy`` defers the connection to the first call, so a process
    can start while the server is still down. ``runtime``: the SDK's (its telemetry), when
    not the default one; ``interceptors`` apply to the client's calls and to its workers.
    Payloads go through :data:`~herald.core.payloads.DATA_CONVERTER`."""
    return await Client.connect(
        address,
        namespace=namespace,
        lazy=lazy,
        runtime=runtime,
        interceptors=interceptors,
        data_converter=DATA_CONVERTER,
    )


def prometheus_runtime(host: str, port: int) -> Runtime:
    """An SDK runtime that serves the SDK's own metrics (workflow and activity task
    latencies, slots, polls) for Prometheus on ``host:port``."""
    metrics = PrometheusConfig(bind_address=f"{host}:{port}")
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=metrics))
    except ValueError as err:  # the SDK's way of saying it could not bind
        raise RuntimeError(
            f"cannot serve the Temporal SDK metrics on {host}:{port} ({err}); set "
            "HERALD_WORKER_METRICS_PORT to a free port, or empty to turn them off"
        ) from err


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Add Herald's search attributes to the namespace; those already there are kept."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
