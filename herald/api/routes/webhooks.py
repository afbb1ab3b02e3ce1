"""``/v1/webhooks``: a tenant's outcome webhook endpoints (scope ``webhooks:write``).

Each endpoint gets a Standard Webhooks secret of its own, shown once, in the answer that
creates it. Another tenant's endpoint answers 404, exactly as an unknown id does.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from fastapi.exceptions import RequestValidationError

from herald.api.deps import ServicesDep, SessionDep, WebhooksWriter
from herald.api.openapi import INVALID, READING_A_BODY, ProblemAnswer, problem_responses
from herald.api.queries import TenantQuery
from herald.core.webhook_models import (
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointDetail,
    WebhookEndpointPublic,
)
from herald.operations.webhooks import (
    MAX_ENDPOINTS_PER_TENANT,
    create_endpoint,
    delete_endpoint,
    describe_endpoint,
    list_endpoints,
    url_refusal,
)

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

NO_SUCH_ENDPOINT = ProblemAnswer(
    status.HTTP_404_NOT_FOUND, "There is no webhook endpoint with this id (for this tenant)"
)
TOO_MANY = ProblemAnswer(
    status.HTTP_409_CONFLICT,
    f"The tenant has {MAX_ENDPOINTS_PER_TENANT} endpoints already, the most it may have",
)
ON_ONE = problem_responses(NO_SUCH_ENDPOINT, INVALID)


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message}])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *READING_A_BODY,
        INVALID.meaning(
            "An invalid field, each listed in `errors`: an unknown event, a URL that is not "
            "http(s), or whose host resolves to a loopback, private, link-local or other "
            "non-public address (unless `HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`)"
        ),
        TOO_MANY,
    ),
)
async def create(
    body: WebhookEndpointCreate,
    session: SessionDep,
    services: ServicesDep,
    principal: WebhooksWriter,
) -> WebhookEndpointCreated:
    """Register an endpoint for the caller's tenant (an admin's: `tenant_id`, or `default`)
    to receive `events` (every event when left out). `secret` is in this answer only: keep
    it to verify each request's `webhook-signature`."""
    tenant_id = principal.tenant_to_submit_to(body.tenant_id)
    tenant = await services.tenants.get(tenant_id)
    if tenant is None:
        raise _invalid("tenant_id", f"there is no tenant {tenant_id!r}")
    refusal = await url_refusal(
        body.url, allow_private_networks=services.settings.webhooks_allow_private_networks
    )
    if refusal is not None:
        raise _invalid("url", refusal)
    return await create_endpoint(session, tenant, body)


@router.get("", responses=problem_responses(INVALID))
async def list_all(
    session: SessionDep, principal: WebhooksWriter, tenant: TenantQuery = None
) -> list[WebhookEndpointPublic]:
    """The caller's tenant's endpoints (an admin's: every tenant's, or `tenant`'s), newest
    first; never their secrets."""
    return await list_endpoints(session, principal.tenant_to_list(tenant))


@router.get("/{endpoint_id}", responses=ON_ONE)
async def describe(
    endpoint_id: uuid.UUID, session: SessionDep, principal: WebhooksWriter
) -> WebhookEndpointDetail:
    """The endpoint, with its most recent failing sends (given up, or pending after a failed
    attempt): their attempts, last HTTP status or error, and times."""
    return await describe_endpoint(session, principal, endpoint_id)


@router.delete("/{endpoint_id}", responses=ON_ONE)
async def delete(
    endpoint_id: uuid.UUID, session: SessionDep, principal: WebhooksWriter
) -> WebhookEndpointPublic:
    """Stop sending to the endpoint; sends still pending for it are given up."""
    return await delete_endpoint(session, principal, endpoint_id)
