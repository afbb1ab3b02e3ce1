"""What the operator console asks the API besides the rest of ``/v1``: who a key is
(`GET /v1/me`) and a message's webhook sends (`GET /v1/messages/{id}/webhook-sends`)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from herald.core.settings import Settings
from tests.receiver import WebhookReceiver
from tests.servers import serving
from tests.stack import API_KEY, Stack, all_delivered, serving_api
from tests.tenancy import as_key, new_tenant

TEMPORAL_UI = "http://127.0.0.1:8233"


@pytest.mark.parametrize("settings_overrides", [{"temporal_ui_url": TEMPORAL_UI}])
async def test_me_tells_a_key_its_tenant_and_scopes(settings: Settings) -> None:
    async with serving_api(settings) as admin:
        me = await admin.get("/v1/me")
        assert me.status_code == 200
        assert me.json() == {
            "key_id": me.json()["key_id"],
            "tenant_id": "default",
            "scopes": ["admin"],
            "temporal_ui_url": TEMPORAL_UI,
            "temporal_namespace": "default",
        }
        assert API_KEY not in me.text
        tenant = await new_tenant(admin, "messages:read", "acks:write")
        async with as_key(admin, tenant.key) as client:
            theirs = (await client.get("/v1/me")).json()
        assert theirs["key_id"] == tenant.key_id
        assert theirs["tenant_id"] == tenant.id
        assert theirs["scopes"] == ["acks:write", "messages:read"]
        # The Web UI shows every tenant's workflows: only admin keys are told where it is.
        assert theirs["temporal_ui_url"] is None
        async with as_key(admin, "hk_unknown") as stranger:
            assert (await stranger.get("/v1/me")).status_code == 401


async def test_a_messages_webhook_sends_are_its_tenants_to_read(stack: Stack) -> None:
    receiver = WebhookReceiver()
    receiver.answer(503)
    owner = await new_tenant(stack.api, "messages:write", "messages:read", "webhooks:write")
    other = await new_tenant(stack.api, "messages:read")
    writer = await new_tenant(stack.api, "messages:write")
    async with (
        serving(receiver) as url,
        as_key(stack.api, owner.key) as client,
        as_key(stack.api, other.key) as other_client,
        as_key(stack.api, writer.key) as writer_client,
    ):
        endpoint = (await client.post("/v1/webhooks", json={"url": f"{url}/hooks"})).json()
        submitted = await client.post(
            "/v1/messages", json={"recipient": "+14155550123", "content": "x"}
        )
        message_id = submitted.json()["id"]
        path = f"/v1/messages/{message_id}/webhook-sends"
        assert (await client.get(path)).json() == {"items": []}
        await all_delivered(stack, [message_id])
        await receiver.wait_for("/hooks", 2)
        sends = await sends_once(client, path, "delivered")

        assert (await other_client.get(path)).status_code == 404
        unknown = await other_client.get(
            "/v1/messages/00000000-0000-4000-8000-000000000000/webhook-sends"
        )
        assert unknown.status_code == 404
        forbidden = await writer_client.get(path)
        assert forbidden.status_code == 403
        assert "`messages:read`" in forbidden.json()["detail"]
        assert (await stack.api.get(path)).json()["items"] == sends  # an admin sees it too
    [send] = sends
    assert send["endpoint_id"] == endpoint["id"]
    assert send["endpoint_url"] == f"{url}/hooks"
    assert send["endpoint_deleted"] is False
    assert send["event_type"] == "message.delivered"
    assert send["message_id"] == message_id
    assert send["attempts"] == 2  # a 503, then the 2xx
    assert "body" not in send and "secret" not in send


async def sends_once(client: httpx.AsyncClient, path: str, state: str) -> list[dict[str, Any]]:
    """The message's sends, once every one is in ``state``."""
    for _ in range(100):
        sends: list[dict[str, Any]] = (await client.get(path)).json()["items"]
        if sends and all(send["state"] == state for send in sends):
            return sends
        await asyncio.sleep(0.2)
    raise AssertionError(f"the sends never all became {state}: {sends}")
