"""End to end: the API, a real worker, real Temporal and PostgreSQL, a scripted gateway."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx

from tests.stack import Stack


async def test_message_is_delivered_once_and_acknowledged(stack: Stack) -> None:
    submitted = await stack.submit(content="Your code is 1234", priority="high")
    assert submitted["status"] in {"queued", "sending", "awaiting_ack"}
    assert submitted["idempotency_key"] == submitted["id"]

    [request] = await stack.gateway.wait_for(submitted["id"], 1)
    assert request.signature_error is None
    assert request.headers["idempotency-key"] == submitted["id"]
    assert request.body == {
        "id": submitted["id"],
        "recipient": "+14155550123",
        "content": "Your code is 1234",
        "priority": "high",
        "sequence_number": None,
        "attempt": 1,
    }
    await stack.wait_for_status(submitted["id"], "awaiting_ack")

    ack = await stack.api.post(f"/v1/messages/{submitted['id']}/ack")
    assert ack.status_code == 200, ack.text
    assert ack.json()["outcome"] == "acknowledged"

    delivered = await stack.wait_for_status(submitted["id"], "delivered")
    assert delivered["retry_count"] == 0
    assert delivered["provider_message_id"] == "gw-1"
    assert datetime.fromisoformat(delivered["delivered_at"]) >= datetime.fromisoformat(
        delivered["created_at"]
    )
    assert len(stack.gateway.for_message(submitted["id"])) == 1

    again = await stack.api.post(f"/v1/messages/{submitted['id']}/ack")
    assert again.json()["outcome"] == "already_delivered"


async def test_missing_ack_re_sends_with_the_same_idempotency_key(stack: Stack) -> None:
    message = await stack.submit()
    first, second = await stack.gateway.wait_for(message["id"], 2)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == message["id"]
    assert [first.body["attempt"], second.body["attempt"]] == [1, 2]

    await stack.wait_for_status(message["id"], "awaiting_ack")
    ack = await stack.api.post("/v1/messages/ack", json={"message_ids": [message["id"]]})
    assert ack.json()["results"][0]["outcome"] == "acknowledged"
    delivered = await stack.wait_for_status(message["id"], "delivered")
    assert delivered["retry_count"] == 1
    assert delivered["last_retry_at"] is not None
    assert delivered["next_retry_at"] is None


async def test_retries_are_recorded_then_the_message_is_dead_lettered(stack: Stack) -> None:
    stack.gateway.default_status = 503
    message = await stack.submit()

    retrying = await stack.wait_for_status(message["id"], "retrying")
    assert retrying["failure_class"] == "transient"
    assert "503" in retrying["failure_reason"]
    assert retrying["next_retry_at"] is not None

    dead = await stack.wait_for_status(message["id"], "dead_lettered")
    attempts = stack.gateway.for_message(message["id"])
    assert [r.body["attempt"] for r in attempts] == [1, 2, 3]
    assert dead["retry_count"] == stack.settings.max_retries
    assert dead["failure_class"] == "transient"
    assert "provider answered 503" in dead["failure_reason"]


async def test_a_permanent_refusal_dead_letters_without_retry(stack: Stack) -> None:
    stack.gateway.answer(400)
    message = await stack.submit()
    dead = await stack.wait_for_status(message["id"], "dead_lettered")
    assert dead["failure_class"] == "permanent"
    assert dead["retry_count"] == 0
    assert len(stack.gateway.for_message(message["id"])) == 1


async def test_bad_input_is_refused_and_nothing_is_stored(stack: Stack) -> None:
    before = (await stack.api.get("/v1/messages")).json()["total"]
    response = await stack.api.post(
        "/v1/messages", json={"recipient": "555-0123", "content": "hi", "priority": "urgent"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert {error["field"] for error in problem["errors"]} == {"recipient", "priority"}
    assert "E.164" in problem["detail"]
    assert (await stack.api.get("/v1/messages")).json()["total"] == before
    assert stack.gateway.received == []


async def test_requests_without_a_valid_key_are_unauthorized(stack: Stack) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        async with httpx.AsyncClient(base_url=str(stack.api.base_url)) as anonymous:
            response = await anonymous.post(
                "/v1/messages",
                json={"recipient": "+14155550123", "content": "hi"},
                headers=headers,
            )
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_messages_answer_404(stack: Stack) -> None:
    unknown = uuid.uuid4()
    for response in (
        await stack.api.get(f"/v1/messages/{unknown}"),
        await stack.api.post(f"/v1/messages/{unknown}/ack"),
    ):
        assert response.status_code == 404
        assert str(unknown) in response.json()["detail"]
    batch = await stack.api.post("/v1/messages/ack", json={"message_ids": [str(unknown)]})
    assert batch.json()["results"] == [{"id": str(unknown), "outcome": "not_found", "status": None}]
    malformed = await stack.api.get("/v1/messages/not-a-uuid")
    assert malformed.status_code == 422


async def test_acking_a_discarded_message_is_a_conflict(stack: Stack) -> None:
    stack.gateway.answer(400)
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "dead_lettered")
    assert (await stack.api.delete(f"/v1/dead-letters/{message['id']}")).status_code == 200
    response = await stack.api.post(f"/v1/messages/{message['id']}/ack")
    assert response.status_code == 409
    assert response.json()["current_status"] == "discarded"


async def test_list_filters_and_pages(stack: Stack) -> None:
    recipient = "+4915123456789"
    ids = [(await stack.submit(recipient=recipient, priority="low"))["id"] for _ in range(3)]
    await stack.submit(recipient=recipient, priority="high")

    page = (
        await stack.api.get(
            "/v1/messages", params={"recipient": recipient, "priority": "low", "page_size": 2}
        )
    ).json()
    assert page["total"] == 3
    assert [m["id"] for m in page["items"]] == ids[::-1][:2]
    second = (
        await stack.api.get(
            "/v1/messages",
            params={"recipient": recipient, "priority": "low", "page_size": 2, "page": 2},
        )
    ).json()
    assert [m["id"] for m in second["items"]] == [ids[0]]
    bad = await stack.api.get("/v1/messages", params={"page_size": 501})
    assert bad.status_code == 422


async def test_a_recipient_with_an_unencoded_plus_is_found(stack: Stack) -> None:
    """``?recipient=+1415...`` typed by a person: the ``+`` arrives as a space."""
    message = await stack.submit(recipient="+14155550199")
    for query in ("?recipient=+14155550199", "?recipient=%2B14155550199"):
        page = await stack.api.get(f"/v1/messages{query}")
        assert page.status_code == 200, page.text
        assert message["id"] in [item["id"] for item in page.json()["items"]]
    dead = await stack.api.get("/v1/dead-letters?recipient=+14155550199")
    assert dead.status_code == 200
    missing_plus = await stack.api.get("/v1/messages?recipient=14155550199")
    assert missing_plus.status_code == 422
