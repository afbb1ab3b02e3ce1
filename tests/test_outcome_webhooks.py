"""Outcome webhooks end to end (DESIGN §11): endpoints registered through the API, events
POSTed by the worker to a real receiver on a real port, signed, retried and given up, and
never in the way of a message's delivery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from herald.activities.breaker import ProviderBreaker
from herald.activities.projection import MessageProjection
from herald.core import webhooks
from herald.core.contract import MessageStatus, Transition
from herald.core.database import sessions
from herald.core.settings import Settings
from herald.core.webhook_models import WebhookSend
from tests.receiver import WebhookReceiver
from tests.servers import serving
from tests.stack import Stack, all_delivered, serving_api
from tests.tenancy import as_key, new_tenant
from tests.test_ordering import unique_recipient
from tests.test_outbox import store_pending

EVENTS = {
    "message.delivered",
    "message.dead_lettered",
    "message.expired",
    "message.discarded",
    "message.canceled",
    "message.suppressed",
}


async def register(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def submit(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"recipient": "+14155550123", "content": "hello", **fields}
    response = await client.post("/v1/messages", json=body)
    assert response.status_code == 202, response.text
    message: dict[str, Any] = response.json()
    return message


@contextlib.asynccontextmanager
async def receiving(receiver: WebhookReceiver) -> AsyncIterator[str]:
    """The receiver on a real port; a held receiver is let go before it stops."""
    async with serving(receiver) as url:
        try:
            yield url
        finally:
            if receiver.hold is not None:
                receiver.hold.set()


async def failing_sends(
    client: httpx.AsyncClient, endpoint_id: str, state: str, timeout: float = 30
) -> list[dict[str, Any]]:
    """The endpoint's failing sends, once the newest one is in ``state``."""
    async with asyncio.timeout(timeout):
        while True:
            response = await client.get(f"/v1/webhooks/{endpoint_id}")
            assert response.status_code == 200, response.text
            sends: list[dict[str, Any]] = response.json()["failing_sends"]
            if sends and sends[0]["state"] == state:
                return sends
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("settings_overrides", [{"webhook_retry_base_seconds": 1}])
async def test_a_failing_endpoint_gets_the_event_again_with_the_same_id(stack: Stack) -> None:
    receiver = WebhookReceiver()
    receiver.answer(500, times=2)
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write")
    async with receiving(receiver) as url, as_key(stack.api, tenant.key) as client:
        port = url.rsplit(":", 1)[1]
        # A host name: the worker resolves it and connects to the address it checked.
        endpoint = await register(client, f"http://localhost:{port}/hooks")
        message = await submit(client, metadata={"order": "42"})
        await all_delivered(stack, [message["id"]])
        hooks = await receiver.wait_for("/hooks", 3)
        answer = await client.get(f"/v1/webhooks/{endpoint['id']}")
    assert answer.json()["failing_sends"] == []  # delivered at last
    assert {hook.webhook_id for hook in hooks} == {hooks[0].webhook_id}
    for hook in hooks:
        webhooks.verify(endpoint["secret"], hook.headers, hook.body)
        assert hook.headers["host"] == f"localhost:{port}"
        assert hook.body == hooks[0].body
    assert hooks[1].at - hooks[0].at >= 0.9  # backoff: 1 s, then 2 s
    assert hooks[2].at - hooks[1].at >= 1.9
    event = hooks[2].event
    assert set(event) == {"type", "timestamp", "data"}
    assert event["type"] == "message.delivered"
    shown = await stack.message(message["id"])
    assert event["data"] == {name: value for name, value in shown.items() if name != "content"}
    assert event["data"]["status"] == "delivered"
    assert event["data"]["tenant_id"] == tenant.id
    assert event["data"]["metadata"] == {"order": "42"}
    assert event["timestamp"] == shown["updated_at"]


@pytest.mark.parametrize("settings_overrides", [{"webhook_timeout_seconds": 30}])
async def test_a_hanging_endpoint_does_not_hold_up_delivery(
    stack: Stack, temporal_client: Client
) -> None:
    receiver = WebhookReceiver(default_status=500, hold=asyncio.Event())
    hooked = await new_tenant(stack.api, "messages:write", "webhooks:write")
    plain = await new_tenant(stack.api, "messages:write")
    async with (
        receiving(receiver) as url,
        as_key(stack.api, hooked.key) as hooked_client,
        as_key(stack.api, plain.key) as plain_client,
    ):
        await register(hooked_client, f"{url}/hang")
        with_hook, without = await asyncio.gather(
            submit(hooked_client), submit(plain_client, recipient="+14155550124")
        )
        await all_delivered(stack, [with_hook["id"], without["id"]])
        await receiver.wait_for("/hang", 1)
        workflow = temporal_client.get_workflow_handle(f"message-{with_hook['id']}")
        # The message's workflow has finished while its event's POST still hangs.
        assert await asyncio.wait_for(workflow.result(), timeout=10) == "delivered"
        assert receiver.in_flight == 1
        took = [await processing_seconds(stack, message) for message in (with_hook, without)]
    assert took[0] < took[1] + 1.0, took


async def processing_seconds(stack: Stack, message: dict[str, Any]) -> float:
    """Submit to delivered (acknowledged)."""
    shown = await stack.message(message["id"])
    delivered = datetime.fromisoformat(shown["delivered_at"])
    return (delivered - datetime.fromisoformat(shown["created_at"])).total_seconds()


@pytest.mark.parametrize("settings_overrides", [{"max_retries": 0}])
async def test_an_endpoint_gets_only_the_events_it_subscribed_to(stack: Stack) -> None:
    receiver = WebhookReceiver()
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write", "dead_letters:write")
    async with receiving(receiver) as url, as_key(stack.api, tenant.key) as client:
        dead_only = await register(client, f"{url}/dead", events=["message.dead_lettered"])
        every = await register(client, f"{url}/all")
        assert dead_only["events"] == ["message.dead_lettered"]
        assert set(every["events"]) == EVENTS
        delivered = await submit(client)
        await all_delivered(stack, [delivered["id"]])
        stack.gateway.answer(400)  # refused for good: dead-lettered at once
        refused = await submit(client, recipient="+14155550124")
        await stack.wait_for_status(refused["id"], "dead_lettered")
        discarded = await client.delete(f"/v1/dead-letters/{refused['id']}")
        assert discarded.status_code == 200, discarded.text
        everything = await receiver.wait_for("/all", 3)
        await asyncio.sleep(1)
    types = sorted((hook.event["type"], hook.event["data"]["id"]) for hook in everything)
    assert types == sorted(
        [
            ("message.delivered", delivered["id"]),
            ("message.dead_lettered", refused["id"]),
            ("message.discarded", refused["id"]),
        ]
    )
    [dead] = receiver.at("/dead")
    assert (dead.event["type"], dead.event["data"]["id"]) == (
        "message.dead_lettered",
        refused["id"],
    )
    assert dead.event["data"]["failure_class"] == "permanent"
    webhooks.verify(dead_only["secret"], dead.headers, dead.body)
    with pytest.raises(webhooks.InvalidSignature):  # each endpoint has its own secret
        webhooks.verify(every["secret"], dead.headers, dead.body)


@pytest.mark.parametrize(
    "settings_overrides", [{"webhook_max_attempts": 2, "webhook_retry_base_seconds": 1}]
)
async def test_a_send_is_given_up_after_the_last_attempt_and_shown(stack: Stack) -> None:
    receiver = WebhookReceiver(default_status=503)
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write")
    async with receiving(receiver) as url, as_key(stack.api, tenant.key) as client:
        endpoint = await register(client, f"{url}/down")
        message = await submit(client)
        await all_delivered(stack, [message["id"]])
        retrying = await failing_sends(client, endpoint["id"], "pending")
        [failed] = await failing_sends(client, endpoint["id"], "failed")
        await asyncio.sleep(1.5)  # nothing after the last attempt
    assert retrying[0]["attempts"] == 1
    assert retrying[0]["next_attempt_at"] is not None
    assert len(receiver.at("/down")) == 2
    assert failed["message_id"] == message["id"]
    assert failed["event_type"] == "message.delivered"
    assert failed["event_id"] == receiver.at("/down")[0].webhook_id
    assert failed["attempts"] == 2
    assert failed["last_status"] == 503
    assert failed["last_error"].startswith("endpoint answered 503")
    assert failed["finished_at"] is not None
    assert failed["next_attempt_at"] is None
    assert (await stack.message(message["id"]))["status"] == "delivered"


async def test_endpoints_are_the_tenants_own_and_need_the_scope(settings: Settings) -> None:
    async with serving_api(settings) as admin:
        owner = await new_tenant(admin, "webhooks:write")
        other = await new_tenant(admin, "webhooks:write")
        reader = await new_tenant(admin, "messages:read")
        async with (
            as_key(admin, owner.key) as owner_client,
            as_key(admin, other.key) as other_client,
            as_key(admin, reader.key) as reader_client,
        ):
            endpoint = await register(
                owner_client, "https://hooks.example.com/herald", description="orders"
            )
            assert endpoint["secret"].startswith("whsec_")
            assert endpoint["tenant_id"] == owner.id
            path = f"/v1/webhooks/{endpoint['id']}"
            unknown = "/v1/webhooks/00000000-0000-4000-8000-000000000000"
            for method in ("GET", "DELETE"):
                theirs = await other_client.request(method, path)
                nobody = await other_client.request(method, unknown)
                assert theirs.status_code == nobody.status_code == 404
                assert theirs.json()["detail"].replace(endpoint["id"], "?") == nobody.json()[
                    "detail"
                ].replace(unknown.rsplit("/", 1)[1], "?")
            assert (await other_client.get("/v1/webhooks")).json() == []
            refused = await other_client.get("/v1/webhooks", params={"tenant": owner.id})
            assert refused.status_code == 403
            for method, url in (("GET", "/v1/webhooks"), ("GET", path), ("DELETE", path)):
                forbidden = await reader_client.request(method, url)
                assert forbidden.status_code == 403
                assert "`webhooks:write`" in forbidden.json()["detail"]
            forbidden = await reader_client.post("/v1/webhooks", json={"url": "http://a.example"})
            assert forbidden.status_code == 403

            listed = (await owner_client.get("/v1/webhooks")).json()
            shown = (await owner_client.get(path)).json()
            assert [item["id"] for item in listed] == [endpoint["id"]]
            assert "secret" not in listed[0] and "secret" not in shown
            assert shown["failing_sends"] == []
            everyone = (await admin.get("/v1/webhooks", params={"tenant": owner.id})).json()
            assert [item["id"] for item in everyone] == [endpoint["id"]]

            unknown_event = await owner_client.post(
                "/v1/webhooks", json={"url": "http://a.example", "events": ["message.sent"]}
            )
            assert unknown_event.status_code == 422
            assert unknown_event.json()["errors"][0]["field"] == "events[0]"
            for url in ("ftp://a.example/x", "http://user:pw@a.example/", "http:///nohost"):
                bad = await owner_client.post("/v1/webhooks", json={"url": url})
                assert bad.status_code == 422, url
                assert bad.json()["errors"][0]["field"] == "url"

            deleted = await owner_client.delete(path)
            assert deleted.status_code == 200
            assert (await owner_client.get(path)).status_code == 404
            assert (await owner_client.get("/v1/webhooks")).json() == []


async def test_a_recording_run_twice_enqueues_its_event_once(settings: Settings) -> None:
    """The local activity that writes a status may run again after its first run committed
    (its completion lost): the same sends come back, and nothing is enqueued twice."""
    async with serving_api(settings) as admin:
        tenant = await new_tenant(admin, "messages:write", "webhooks:write")
        async with as_key(admin, tenant.key) as client:
            await register(client, "http://hooks.example/every")
            await register(client, "http://hooks.example/other", events=["message.expired"])
            message = await submit(client)
    transition = Transition(message["id"], MessageStatus.DELIVERED)
    async with sessions(settings.require_database_url()) as factory:
        breaker = ProviderBreaker.from_settings(factory, "http", settings)
        projection = MessageProjection(factory, breaker)
        recording = ActivityEnvironment()
        first = await recording.run(projection.apply, transition)
        again = await recording.run(projection.apply, transition)
        recording.info = dataclasses.replace(recording.info, activity_id="another")
        another = await recording.run(projection.apply, transition)
        async with factory() as session:
            events = await session.exec(
                select(WebhookSend.event_id).where(
                    col(WebhookSend.message_id) == uuid.UUID(message["id"])
                )
            )
            event_ids = list(events)
    assert len(first.webhook_sends) == 1
    assert again.webhook_sends == first.webhook_sends
    assert len(another.webhook_sends) == 1 and another.webhook_sends != first.webhook_sends
    assert len(event_ids) == len(set(event_ids)) == 2


@pytest.mark.parametrize("settings_overrides", [{"outbox_interval_seconds": 3600}])
async def test_canceling_a_pending_message_raises_its_event(stack: Stack) -> None:
    """A pending message has no workflow: the API enqueues and starts its event itself."""
    receiver = WebhookReceiver()
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write")
    async with receiving(receiver) as url, as_key(stack.api, tenant.key) as client:
        await register(client, f"{url}/canceled", events=["message.canceled"])
        pending = await store_pending(stack.settings, unique_recipient(), tenant.id)
        answer = await client.post(f"/v1/messages/{pending}/cancel")
        assert answer.status_code == 200, answer.text
        [hook] = await receiver.wait_for("/canceled", 1)
    assert hook.event["type"] == "message.canceled"
    assert hook.event["data"]["id"] == pending
    assert hook.event["data"]["status"] == "canceled"
