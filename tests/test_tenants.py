"""Tenants and scoped keys on the real stack: keys shown once and stored as hashes, scopes
enforced (403 naming the scope), another tenant's data answering 404, idempotency keys per
tenant, revocation on every API process, and acks only from the gateway."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from herald.core import webhooks
from herald.core.database import sessions
from herald.core.models import ApiKey
from herald.core.settings import Settings
from tests.stack import Stack, serving_api
from tests.tenancy import as_key, new_tenant

WRITE_READ = ("messages:write", "messages:read")
BODY = {"recipient": "+14155550123", "content": "hello"}


async def submit(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/messages", json=BODY | fields)
    assert response.status_code == 202, response.text
    message: dict[str, Any] = response.json()
    return message


async def test_a_key_is_shown_once_and_stored_only_as_a_hash(stack: Stack) -> None:
    tenant = await new_tenant(stack.api, *WRITE_READ, rate_limit_per_second=5, weight=2)
    assert tenant.key.startswith("hk_")

    listed = (await stack.api.get("/v1/api-keys", params={"tenant": tenant.id})).json()
    assert [key["id"] for key in listed] == [tenant.key_id]
    assert "key" not in listed[0]
    assert listed[0]["prefix"] == tenant.key[:12]
    assert sorted(listed[0]["scopes"]) == sorted(WRITE_READ)

    async with sessions(stack.settings.require_database_url()) as factory, factory() as session:
        stored = (
            await session.exec(select(ApiKey).where(col(ApiKey.tenant_id) == tenant.id))
        ).one()
    assert stored.key_hash == hashlib.sha256(tenant.key.encode()).hexdigest()
    assert tenant.key not in json.dumps(stored.model_dump(mode="json"))

    tenants = (await stack.api.get("/v1/tenants")).json()
    mine = next(t for t in tenants if t["id"] == tenant.id)
    assert (mine["rate_limit_per_second"], mine["weight"]) == (5, 2)
    assert any(t["id"] == "default" for t in tenants)


async def test_a_key_without_the_scope_is_refused_naming_it(stack: Stack) -> None:
    reader = await new_tenant(stack.api, "messages:read")
    async with as_key(stack.api, reader.key) as client:
        refused = await client.post("/v1/messages", json=BODY)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert "messages:write" in refused.json()["detail"]
        assert (await client.get("/v1/messages")).status_code == 200
        for admin_only in ("/v1/tenants", "/v1/api-keys", "/v1/circuit-breakers"):
            answer = await client.get(admin_only)
            assert answer.status_code == 403, admin_only
            assert "`admin`" in answer.json()["detail"]
        requeue = await client.post(f"/v1/dead-letters/{uuid.uuid4()}/requeue")
        assert requeue.status_code == 403
        assert "dead_letters:write" in requeue.json()["detail"]
    assert (await stack.api.get("/v1/messages")).status_code == 200, "admin has every scope"


async def test_another_tenants_messages_are_not_there(stack: Stack) -> None:
    alice = await new_tenant(stack.api, *WRITE_READ)
    bob = await new_tenant(stack.api, *WRITE_READ)
    async with as_key(stack.api, alice.key) as as_alice, as_key(stack.api, bob.key) as as_bob:
        message = await submit(as_alice)
        assert message["tenant_id"] == alice.id
        assert (await as_alice.get(f"/v1/messages/{message['id']}")).status_code == 200
        assert (await as_bob.get(f"/v1/messages/{message['id']}")).status_code == 404
        assert (await as_bob.get("/v1/messages")).json()["total"] == 0
        assert (await as_alice.get("/v1/messages")).json()["total"] == 1

        other = await as_bob.get("/v1/messages", params={"tenant": alice.id})
        assert other.status_code == 403
        smuggled = await as_bob.post("/v1/messages", json=BODY | {"tenant_id": alice.id})
        assert smuggled.status_code == 403

    listed = await stack.api.get("/v1/messages", params={"tenant": alice.id})
    assert [m["id"] for m in listed.json()["items"]] == [message["id"]]
    for_bob = await stack.api.post("/v1/messages", json=BODY | {"tenant_id": bob.id})
    assert for_bob.status_code == 202 and for_bob.json()["tenant_id"] == bob.id
    nobody = await stack.api.post("/v1/messages", json=BODY | {"tenant_id": "no-such-tenant"})
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "tenant_id"
    assert (await stack.submit())["tenant_id"] == "default"


async def test_an_idempotency_key_belongs_to_its_tenant(stack: Stack) -> None:
    alice = await new_tenant(stack.api, *WRITE_READ)
    bob = await new_tenant(stack.api, *WRITE_READ)
    headers = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    async with as_key(stack.api, alice.key) as as_alice, as_key(stack.api, bob.key) as as_bob:
        first = await as_alice.post("/v1/messages", json=BODY, headers=headers)
        second = await as_bob.post("/v1/messages", json=BODY, headers=headers)
        again = await as_alice.post("/v1/messages", json=BODY, headers=headers)
    assert (first.status_code, second.status_code, again.status_code) == (202, 202, 200)
    assert first.json()["id"] != second.json()["id"]
    assert again.json()["id"] == first.json()["id"]


async def test_another_tenants_dead_letters_are_not_found(stack: Stack) -> None:
    alice = await new_tenant(stack.api, *WRITE_READ, "dead_letters:write")
    bob = await new_tenant(stack.api, *WRITE_READ, "dead_letters:write")
    stack.gateway.answer(400)
    async with as_key(stack.api, alice.key) as as_alice, as_key(stack.api, bob.key) as as_bob:
        dead = await submit(as_alice)
        await stack.wait_for_status(dead["id"], "dead_lettered")
        assert (await as_bob.get("/v1/dead-letters")).json()["total"] == 0
        assert (await as_bob.delete(f"/v1/dead-letters/{dead['id']}")).status_code == 404
        bulk = await as_bob.post("/v1/dead-letters/requeue", json={"message_ids": [dead["id"]]})
        assert bulk.json()["results"][0]["outcome"] == "not_found"
        assert (await as_alice.get("/v1/dead-letters")).json()["total"] == 1
        assert (await as_alice.delete(f"/v1/dead-letters/{dead['id']}")).status_code == 200


async def test_metrics_are_the_callers_tenants(stack: Stack) -> None:
    alice = await new_tenant(stack.api, *WRITE_READ)
    bob = await new_tenant(stack.api, *WRITE_READ)
    async with as_key(stack.api, alice.key) as as_alice, as_key(stack.api, bob.key) as as_bob:
        for _ in range(3):
            await submit(as_alice, priority="low")
        alices = (await as_alice.get("/v1/metrics")).json()
        bobs = (await as_bob.get("/v1/metrics")).json()
    assert alices["queue_depth"]["low"] == 3
    assert bobs["queue_depth"] == {"high": 0, "normal": 0, "low": 0}
    chosen = await stack.api.get("/v1/metrics", params={"tenant": alice.id})
    assert chosen.json()["queue_depth"]["low"] == 3


@pytest.mark.parametrize("settings_overrides", [{"api_key_cache_seconds": 0.5}])
async def test_a_revoked_key_is_refused_by_every_api_process(stack: Stack) -> None:
    tenant = await new_tenant(stack.api, *WRITE_READ)
    async with serving_api(stack.settings, api_key=tenant.key) as replica:
        assert (await replica.get("/v1/messages")).status_code == 200  # remembered now
        revoked = await stack.api.delete(f"/v1/api-keys/{tenant.key_id}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        started = time.monotonic()
        async with asyncio.timeout(5):
            while (await replica.get("/v1/messages")).status_code != 401:
                await asyncio.sleep(0.1)
    assert time.monotonic() - started < 2
    again = await stack.api.delete(f"/v1/api-keys/{tenant.key_id}")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_acks_take_a_gateway_key_of_any_tenant(stack: Stack) -> None:
    sender = await new_tenant(stack.api, *WRITE_READ)
    gateway = await new_tenant(stack.api, "acks:write")
    async with as_key(stack.api, sender.key) as as_sender, as_key(stack.api, gateway.key) as as_gw:
        message = await submit(as_sender)
        await stack.wait_for_status(message["id"], "awaiting_ack")
        refused = await as_sender.post(f"/v1/messages/{message['id']}/ack")
        assert refused.status_code == 403 and "acks:write" in refused.json()["detail"]
        taken = await as_gw.post(f"/v1/messages/{message['id']}/ack")
        assert taken.status_code == 200, taken.text
        assert (await as_gw.get(f"/v1/messages/{message['id']}")).status_code == 403
    await stack.wait_for_status(message["id"], "delivered")


GATEWAY_SECRET = webhooks.generate_secret()


def signed(
    body: bytes, secret: str = GATEWAY_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        **webhooks.sign(secret, f"ack_{uuid.uuid4().hex}", body, timestamp),
    }


@pytest.mark.parametrize("settings_overrides", [{"gateway_secret": GATEWAY_SECRET}])
async def test_a_signed_gateway_callback_acks_without_a_key(stack: Stack) -> None:
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "awaiting_ack")
    body = json.dumps({"message_ids": [message["id"]]}).encode()
    async with httpx.AsyncClient(base_url=stack.api.base_url) as anonymous:
        nothing = await anonymous.post("/v1/messages/ack", content=body)
        assert nothing.status_code == 401
        forged = await anonymous.post(
            "/v1/messages/ack", content=body, headers=signed(body, webhooks.generate_secret())
        )
        assert forged.status_code == 401
        stale = await anonymous.post(
            "/v1/messages/ack", content=body, headers=signed(body, timestamp=int(time.time()) - 600)
        )
        assert stale.status_code == 401 and "old" in stale.json()["detail"]
        other = json.dumps({"message_ids": [str(uuid.uuid4())]}).encode()
        swapped = await anonymous.post("/v1/messages/ack", content=other, headers=signed(body))
        assert swapped.status_code == 401, "a signature covers its own body only"
        huge = b'{"message_ids": [' + b'"x",' * 100_000 + b'"x"]}'
        too_big = await anonymous.post("/v1/messages/ack", content=huge, headers=signed(huge))
        assert too_big.status_code == 413

        taken = await anonymous.post("/v1/messages/ack", content=body, headers=signed(body))
        assert taken.status_code == 200, taken.text
        assert taken.json()["results"][0]["outcome"] == "acknowledged"
    await stack.wait_for_status(message["id"], "delivered")


async def test_without_a_gateway_secret_a_signed_callback_is_refused(settings: Settings) -> None:
    body = json.dumps({"message_ids": [str(uuid.uuid4())]}).encode()
    async with serving_api(settings, api_key=None) as anonymous:
        answer = await anonymous.post("/v1/messages/ack", content=body, headers=signed(body))
    assert answer.status_code == 401
