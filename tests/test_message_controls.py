"""What a submitter controls on the real stack: scheduled sends, cancel and priority changes
until the provider has a message, the attempt history, and the suppression list."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.stack import Stack, serving_api
from tests.tenancy import as_key, new_tenant
from tests.test_ordering import ack_when_sent, submit_line, unique_recipient

ONE_AT_A_TIME = {"max_concurrent_deliveries": 1, "ack_timeout_seconds": 60}


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def cancel(stack: Stack, message_id: str) -> httpx.Response:
    return await stack.api.post(f"/v1/messages/{message_id}/cancel")


async def test_a_scheduled_message_is_not_sent_before_its_time(stack: Stack) -> None:
    send_at = time.time() + 8
    message = await stack.submit(send_at=in_seconds(8))
    assert message["status"] == "scheduled"
    assert datetime.fromisoformat(message["send_at"]).timestamp() == pytest.approx(send_at, abs=1)
    await asyncio.sleep(6)
    assert stack.gateway.for_message(message["id"]) == []
    assert (await stack.message(message["id"]))["status"] == "scheduled"

    [request] = await stack.gateway.wait_for(message["id"], 1, timeout=20)
    assert request.at >= time.monotonic() - (time.time() - send_at)
    await ack_when_sent(stack, message)


@pytest.mark.parametrize(
    ("send_at", "fields", "phrase"),
    [
        ("2020-01-01T00:00:00Z", {}, "in the past"),
        (36 * 86400, {}, "HERALD_MAX_SCHEDULE_DAYS"),
        (60, {"ordering": "strict"}, "strictly ordered"),
        ("2030-01-01T00:00:00", {}, "timezone"),
    ],
)
async def test_a_bad_send_at_is_refused(
    stack: Stack, send_at: str | int, fields: dict[str, Any], phrase: str
) -> None:
    """``send_at`` as a date, or as seconds from now (so the test holds whenever it runs)."""
    when = in_seconds(send_at) if isinstance(send_at, int) else send_at
    body = {"recipient": "+14155550123", "content": "later", "send_at": when, **fields}
    single = await stack.api.post("/v1/messages", json=body)
    assert single.status_code == 422, single.text
    assert phrase in single.json()["detail"]
    batch = await stack.api.post("/v1/messages/batch", json={"messages": [body]})
    assert batch.status_code == 422
    assert batch.json()["errors"][0]["field"] == "messages[0].send_at"


async def test_canceled_messages_are_never_sent(stack: Stack) -> None:
    scheduled = await stack.submit(send_at=in_seconds(3))
    stack.gateway.default_status = 503  # the other one retries, and is canceled in between
    retrying = await stack.submit()
    await stack.wait_for_status(retrying["id"], "retrying")
    for message in (scheduled, retrying):
        answer = await cancel(stack, message["id"])
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"id": message["id"], "outcome": "canceled", "status": "canceled"}
    sent_before = len(stack.gateway.for_message(retrying["id"]))
    await asyncio.sleep(5)  # past the scheduled time and the next retry
    assert stack.gateway.for_message(scheduled["id"]) == []
    assert len(stack.gateway.for_message(retrying["id"])) == sent_before
    for message in (scheduled, retrying):
        assert (await stack.message(message["id"]))["status"] == "canceled"
    again = await cancel(stack, scheduled["id"])
    assert again.status_code == 409 and again.json()["current_status"] == "canceled"


async def test_a_message_the_provider_has_cannot_be_canceled(stack: Stack) -> None:
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "awaiting_ack")
    refused = await cancel(stack, message["id"])
    assert refused.status_code == 409
    assert refused.json()["current_status"] == "awaiting_ack"
    bulk = await stack.api.post(
        "/v1/messages/cancel", json={"message_ids": [message["id"], str(uuid.uuid4())]}
    )
    assert [r["outcome"] for r in bulk.json()["results"]] == ["not_cancelable", "not_found"]


async def test_a_pending_message_is_canceled_in_place(stack: Stack) -> None:
    nowhere = stack.settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    async with serving_api(nowhere) as api:
        response = await api.post(
            "/v1/messages", json={"recipient": "+14155550123", "content": "x"}
        )
        message = response.json()
        assert message["status"] == "pending"
        answer = await api.post(f"/v1/messages/{message['id']}/cancel")
        assert answer.json()["status"] == "canceled"
    assert (await stack.message(message["id"]))["status"] == "canceled"


@pytest.mark.parametrize("settings_overrides", [{"ack_timeout_seconds": 60}])
async def test_a_canceled_member_frees_its_place_in_the_line(stack: Stack) -> None:
    head, second, third = await submit_line(stack, 3)
    await stack.wait_for_status(head["id"], "awaiting_ack")
    assert (await cancel(stack, second["id"])).status_code == 200
    await ack_when_sent(stack, head)
    await ack_when_sent(stack, third)
    assert stack.gateway.for_message(second["id"]) == []


@pytest.mark.parametrize("settings_overrides", [ONE_AT_A_TIME])
async def test_a_raised_priority_overtakes_the_backlog(stack: Stack) -> None:
    stack.gateway.latency = 0.2
    recipient = unique_recipient()
    backlog = [await stack.submit(recipient=recipient, priority="low") for _ in range(15)]
    late = await stack.submit(recipient=recipient, priority="low")
    changed = await stack.api.patch(f"/v1/messages/{late['id']}", json={"priority": "high"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "high"
    await stack.gateway.wait_for(late["id"], 1, timeout=60)
    order = [r.body["id"] for r in stack.gateway.received]
    sent_first = len({m["id"] for m in backlog}.intersection(order[: order.index(late["id"])]))
    assert sent_first < 10, f"the raised message waited for {sent_first} of the backlog"
    assert stack.gateway.for_message(late["id"])[0].body["priority"] == "high"

    await stack.wait_for_status(late["id"], "awaiting_ack")
    refused = await stack.api.patch(f"/v1/messages/{late['id']}", json={"priority": "low"})
    assert refused.status_code == 409 and refused.json()["current_status"] == "awaiting_ack"


@pytest.mark.parametrize("settings_overrides", [{"max_retries": 3, "ack_timeout_seconds": 3}])
async def test_every_attempt_is_in_the_history(stack: Stack) -> None:
    stack.gateway.answer(503, times=2)
    message = await stack.submit()
    await stack.gateway.wait_for(message["id"], 4, timeout=30)  # 503, 503, 200 (no ack), 200
    await stack.wait_for_status(message["id"], "awaiting_ack")
    response = await stack.api.get(f"/v1/messages/{message['id']}/attempts")
    assert response.status_code == 200, response.text
    attempts = response.json()["items"]
    assert [(a["attempt"], a["outcome"], a["http_status"]) for a in attempts] == [
        (1, "failed", 503),
        (2, "failed", 503),
        (3, "ack_timeout", 200),
        (4, "accepted", 200),
    ]
    assert attempts[0]["failure_class"] == "transient"
    assert "503" in attempts[0]["failure_reason"]
    assert all(a["duration_ms"] >= 0 and a["finished_at"] >= a["started_at"] for a in attempts)
    assert attempts[3]["provider_message_id"] is not None
    unknown = await stack.api.get(f"/v1/messages/{uuid.uuid4()}/attempts")
    assert unknown.status_code == 404


async def test_suppressed_recipients_are_never_sent_to(stack: Stack) -> None:
    owner = await new_tenant(stack.api, "messages:write", "messages:read", "suppressions:write")
    other = await new_tenant(stack.api, "suppressions:write")
    recipient = unique_recipient()
    async with as_key(stack.api, owner.key) as client, as_key(stack.api, other.key) as others:
        put = await client.put(f"/v1/suppressions/{recipient}", json={"reason": "STOP"})
        assert put.status_code == 200, put.text
        assert put.json()["reason"] == "STOP"
        submitted = await client.post(
            "/v1/messages", json={"recipient": recipient, "content": "hi"}
        )
        assert submitted.status_code == 202
        first = submitted.json()
        # Suppressed after the submit, before the send: the same end.
        later = await client.post(
            "/v1/messages",
            json={"recipient": unique_recipient(), "content": "x", "send_at": in_seconds(2)},
        )
        assert (
            await client.put(f"/v1/suppressions/{later.json()['recipient']}")
        ).status_code == 200

        for message in (first, later.json()):
            suppressed = await stack.wait_for_status(message["id"], "suppressed", timeout=20)
            assert "suppression list" in suppressed["failure_reason"]
            assert stack.gateway.for_message(message["id"]) == []

        listed = (await client.get("/v1/suppressions")).json()
        assert listed["total"] == 2
        assert (await others.get("/v1/suppressions")).json()["total"] == 0
        assert (await others.delete(f"/v1/suppressions/{recipient}")).status_code == 404

        assert (await client.delete(f"/v1/suppressions/{recipient}")).status_code == 204
        again = await client.post("/v1/messages", json={"recipient": recipient, "content": "hi"})
    await stack.gateway.wait_for(again.json()["id"], 1)
