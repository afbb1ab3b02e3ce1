"""Herald's API operations, each a function returning a :class:`~herald.client.calls.Call`.

Submits carry an ``Idempotency-Key`` (generated unless given), the same on every retry of
the call, so a submit sent again after a lost answer stores one message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from herald.api.schemas import (
    AckResult,
    ActionResults,
    AttemptList,
    BatchResult,
    CancelOutcome,
    CancelResult,
    DeadLetterOutcome,
    DeadLetterResult,
    MessagePage,
    MetricsSummaryPublic,
    SuppressionPage,
)
from herald.client.calls import Call, read
from herald.core.models import MessagePublic, SuppressionPublic
from herald.core.webhook_models import (
    WebhookEndpointCreated,
    WebhookEndpointDetail,
    WebhookEndpointPublic,
)

__all__ = [
    "acknowledge",
    "attempts",
    "cancel",
    "cancel_many",
    "change_priority",
    "create_webhook",
    "dead_letters_page",
    "delete_webhook",
    "discard",
    "get_message",
    "get_webhook",
    "lift_suppression",
    "list_webhooks",
    "messages_page",
    "metrics",
    "requeue",
    "requeue_many",
    "send",
    "send_batch",
    "suppress",
    "suppressions_page",
]

Id = uuid.UUID | str


def send(
    recipient: str,
    content: str,
    *,
    priority: str | None = None,
    ordering: str | None = None,
    metadata: Mapping[str, str] | None = None,
    send_at: datetime | None = None,
    tenant_id: str | None = None,
    idempotency_key: str | None = None,
) -> Call[MessagePublic]:
    """Submit one message: stored durably (``pending`` or ``queued``), or replayed."""
    body = _present(
        recipient=recipient,
        content=content,
        priority=priority,
        ordering=ordering,
        metadata=dict(metadata) if metadata is not None else None,
        send_at=send_at.isoformat() if send_at is not None else None,
        tenant_id=tenant_id,
    )
    key = idempotency_key or str(uuid.uuid4())
    return Call(
        "POST", "/v1/messages", read(MessagePublic), json=body, headers={"Idempotency-Key": key}
    )


def send_batch(
    messages: Sequence[Mapping[str, Any]], *, tenant_id: str | None = None
) -> Call[BatchResult]:
    """Submit up to ``HERALD_BATCH_SIZE_LIMIT`` messages (each a submit's fields) at once;
    each without an ``idempotency_key`` gets one."""
    items = [{"idempotency_key": str(uuid.uuid4()), **message} for message in messages]
    body = _present(messages=items, tenant_id=tenant_id)
    return Call("POST", "/v1/messages/batch", read(BatchResult), json=body)


def get_message(message_id: Id) -> Call[MessagePublic]:
    return Call("GET", f"/v1/messages/{message_id}", read(MessagePublic))


def messages_page(
    page: int = 1,
    page_size: int = 100,
    *,
    status: str | None = None,
    recipient: str | None = None,
    priority: str | None = None,
    tenant: str | None = None,
    sort: str | None = None,
) -> Call[MessagePage]:
    params = {
        "page": page,
        "page_size": page_size,
        "status": status,
        "recipient": recipient,
        "priority": priority,
        "tenant": tenant,
        "sort": sort,
    }
    return Call("GET", "/v1/messages", read(MessagePage), params=params)


def attempts(message_id: Id) -> Call[AttemptList]:
    return Call("GET", f"/v1/messages/{message_id}/attempts", read(AttemptList))


def cancel(message_id: Id) -> Call[CancelResult]:
    """Cancel a message the provider does not have yet (else ``Conflict``)."""
    return Call("POST", f"/v1/messages/{message_id}/cancel", read(CancelResult))


def cancel_many(message_ids: Sequence[Id]) -> Call[ActionResults[CancelOutcome]]:
    body = {"message_ids": [str(message_id) for message_id in message_ids]}
    return Call("POST", "/v1/messages/cancel", read(ActionResults[CancelOutcome]), json=body)


def change_priority(message_id: Id, priority: str) -> Call[MessagePublic]:
    return Call(
        "PATCH", f"/v1/messages/{message_id}", read(MessagePublic), json={"priority": priority}
    )


def acknowledge(message_id: Id) -> Call[AckResult]:
    """Acknowledge a delivery (a key with ``acks:write``)."""
    return Call("POST", f"/v1/messages/{message_id}/ack", read(AckResult))


def dead_letters_page(
    page: int = 1,
    page_size: int = 100,
    *,
    failure_class: str | None = None,
    recipient: str | None = None,
    tenant: str | None = None,
    sort: str | None = None,
) -> Call[MessagePage]:
    params = {
        "page": page,
        "page_size": page_size,
        "failure_class": failure_class,
        "recipient": recipient,
        "tenant": tenant,
        "sort": sort,
    }
    return Call("GET", "/v1/dead-letters", read(MessagePage), params=params)


def requeue(message_id: Id) -> Call[DeadLetterResult]:
    return Call("POST", f"/v1/dead-letters/{message_id}/requeue", read(DeadLetterResult))


def requeue_many(message_ids: Sequence[Id]) -> Call[ActionResults[DeadLetterOutcome]]:
    body = {"message_ids": [str(message_id) for message_id in message_ids]}
    answer = read(ActionResults[DeadLetterOutcome])
    return Call("POST", "/v1/dead-letters/requeue", answer, json=body)


def discard(message_id: Id) -> Call[DeadLetterResult]:
    return Call("DELETE", f"/v1/dead-letters/{message_id}", read(DeadLetterResult))


def list_webhooks(tenant: str | None = None) -> Call[list[WebhookEndpointPublic]]:
    return Call("GET", "/v1/webhooks", read(list[WebhookEndpointPublic]), params={"tenant": tenant})


def create_webhook(
    url: str,
    *,
    events: Sequence[str] | None = None,
    description: str | None = None,
    tenant_id: str | None = None,
) -> Call[WebhookEndpointCreated]:
    """Register an endpoint; its signing ``secret`` is in this answer only."""
    body = _present(
        url=url,
        events=list(events) if events is not None else None,
        description=description,
        tenant_id=tenant_id,
    )
    return Call("POST", "/v1/webhooks", read(WebhookEndpointCreated), json=body)


def get_webhook(endpoint_id: Id) -> Call[WebhookEndpointDetail]:
    return Call("GET", f"/v1/webhooks/{endpoint_id}", read(WebhookEndpointDetail))


def delete_webhook(endpoint_id: Id) -> Call[WebhookEndpointPublic]:
    return Call("DELETE", f"/v1/webhooks/{endpoint_id}", read(WebhookEndpointPublic))


def suppress(
    recipient: str, *, reason: str | None = None, tenant: str | None = None
) -> Call[SuppressionPublic]:
    return Call(
        "PUT",
        f"/v1/suppressions/{recipient}",
        read(SuppressionPublic),
        params={"tenant": tenant},
        json=_present(reason=reason),
    )


def lift_suppression(recipient: str, *, tenant: str | None = None) -> Call[None]:
    return Call("DELETE", f"/v1/suppressions/{recipient}", read(None), params={"tenant": tenant})


def suppressions_page(
    page: int = 1, page_size: int = 100, *, tenant: str | None = None
) -> Call[SuppressionPage]:
    params = {"page": page, "page_size": page_size, "tenant": tenant}
    return Call("GET", "/v1/suppressions", read(SuppressionPage), params=params)


def metrics(tenant: str | None = None) -> Call[MetricsSummaryPublic]:
    return Call("GET", "/v1/metrics", read(MetricsSummaryPublic), params={"tenant": tenant})


def _present(**fields: Any) -> dict[str, Any]:
    """The fields given (not ``None``)."""
    return {name: value for name, value in fields.items() if value is not None}
