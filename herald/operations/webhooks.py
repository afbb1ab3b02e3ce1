"""Outcome webhook endpoints: registered per tenant with a secret of their own (shown once),
listed, shown with their failing sends, deleted (DESIGN §11)."""

from __future__ import annotations

import logging
import uuid

from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core import webhooks
from herald.core.egress import EgressRefused, check_url
from herald.core.errors import Conflict, NotFound
from herald.core.models import Tenant, utcnow
from herald.core.outcomes import OutcomeEvent, WebhookPolicy, WebhookSendState
from herald.core.settings import Settings
from herald.core.webhook_models import (
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointDetail,
    WebhookEndpointPublic,
    WebhookSend,
    WebhookSendPublic,
    WebhookSendToEndpoint,
)
from herald.operations.keys import Principal

__all__ = [
    "FAILING_SENDS_SHOWN",
    "MAX_ENDPOINTS_PER_TENANT",
    "create_endpoint",
    "delete_endpoint",
    "describe_endpoint",
    "list_endpoints",
    "sends_of_message",
    "url_refusal",
    "webhook_policy",
]

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_TENANT = 20
"""Each event fans out to every subscribed endpoint of the tenant: a bound on the fan-out."""
FAILING_SENDS_SHOWN = 20


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """How each send is tried, fixed when its event happens."""
    return WebhookPolicy(
        max_attempts=settings.webhook_max_attempts,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


async def url_refusal(url: str, *, allow_private_networks: bool) -> str | None:
    """Why ``url`` may not be registered (its host resolves to a non-public address, say),
    or ``None``."""
    try:
        await check_url(url, allow_private_networks=allow_private_networks)
    except EgressRefused as err:
        return str(err)
    return None


async def create_endpoint(
    session: AsyncSession, tenant: Tenant, request: WebhookEndpointCreate
) -> WebhookEndpointCreated:
    """Register an endpoint (its URL checked already) for ``tenant``; the answer is the
    only place its secret appears. 409 past :data:`MAX_ENDPOINTS_PER_TENANT`."""
    # The tenant's row lock makes the count and the insert one step for concurrent calls.
    await session.exec(select(Tenant.id).where(col(Tenant.id) == tenant.id).with_for_update())
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(
            col(WebhookEndpoint.tenant_id) == tenant.id,
            col(WebhookEndpoint.deleted_at).is_(None),
        )
    )
    if (count or 0) >= MAX_ENDPOINTS_PER_TENANT:
        await session.rollback()
        raise Conflict(
            f"tenant {tenant.id!r} has {MAX_ENDPOINTS_PER_TENANT} webhook endpoints, the most "
            "it may have; delete one first"
        )
    events = request.events or list(OutcomeEvent)
    secret = webhooks.generate_secret()
    endpoint = WebhookEndpoint(
        tenant_id=tenant.id,
        url=request.url,
        events=[event.value for event in events],
        description=request.description,
        secret=secret,
    )
    session.add(endpoint)
    await session.commit()
    log.info(
        "webhook endpoint created",
        extra={"endpoint_id": str(endpoint.id), "tenant": tenant.id, "events": ",".join(events)},
    )
    return WebhookEndpointCreated(**WebhookEndpointPublic.of(endpoint).model_dump(), secret=secret)


async def list_endpoints(
    session: AsyncSession, tenant_id: str | None
) -> list[WebhookEndpointPublic]:
    """The endpoints of ``tenant_id`` (every tenant's: ``None``), newest first."""
    query = (
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.deleted_at).is_(None))
        .order_by(col(WebhookEndpoint.created_at).desc(), col(WebhookEndpoint.id))
    )
    if tenant_id is not None:
        query = query.where(col(WebhookEndpoint.tenant_id) == tenant_id)
    return [WebhookEndpointPublic.of(endpoint) for endpoint in await session.exec(query)]


async def describe_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpointDetail:
    """The endpoint and its most recent failing sends: given up, or pending after a failed
    attempt."""
    endpoint = await _visible(session, principal, endpoint_id)
    failing = await session.exec(
        select(WebhookSend)
        .where(
            col(WebhookSend.endpoint_id) == endpoint.id,
            or_(
                col(WebhookSend.state) == WebhookSendState.FAILED,
                (col(WebhookSend.state) == WebhookSendState.PENDING)
                & (col(WebhookSend.attempts) > 0),
            ),
        )
        .order_by(col(WebhookSend.created_at).desc(), col(WebhookSend.id))
        .limit(FAILING_SENDS_SHOWN)
    )
    return WebhookEndpointDetail(
        **WebhookEndpointPublic.of(endpoint).model_dump(),
        failing_sends=[WebhookSendPublic.of(send) for send in failing],
    )


async def sends_of_message(
    session: AsyncSession, message_id: uuid.UUID
) -> list[WebhookSendToEndpoint]:
    """Every send of the message's outcome events, oldest first, with its endpoint (the
    caller checked that it may see the message: its endpoints are its tenant's)."""
    rows = await session.exec(
        select(WebhookSend, WebhookEndpoint)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookSend.endpoint_id))
        .where(col(WebhookSend.message_id) == message_id)
        .order_by(col(WebhookSend.created_at), col(WebhookSend.id))
    )
    return [
        WebhookSendToEndpoint(
            **WebhookSendPublic.of(send).model_dump(),
            endpoint_id=endpoint.id,
            endpoint_url=endpoint.url,
            endpoint_deleted=endpoint.deleted_at is not None,
        )
        for send, endpoint in rows
    ]


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpointPublic:
    """Delete the endpoint: no event is sent to it any more, and sends still pending for it
    are given up at their next attempt. Its row stays, for its sends' sake."""
    endpoint = await _visible(session, principal, endpoint_id)
    endpoint.deleted_at = utcnow()
    session.add(endpoint)
    await session.commit()
    log.info(
        "webhook endpoint deleted",
        extra={"endpoint_id": str(endpoint.id), "tenant": endpoint.tenant_id},
    )
    return WebhookEndpointPublic.of(endpoint)


async def _visible(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """The endpoint, if it exists and the caller may see it: another tenant's answers as an
    unknown id does."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or endpoint.deleted_at is not None
        or not principal.sees(endpoint.tenant_id)
    ):
        raise NotFound(f"there is no webhook endpoint {endpoint_id}")
    return endpoint
