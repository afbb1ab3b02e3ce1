"""The dead-letter queue end to end: list, requeue, discard and retention expiry."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.stack import Stack

RECIPIENT = "+442071838750"


async def dead_letter(stack: Stack, **fields: Any) -> dict[str, Any]:
    """A message the gateway refuses for good (400), once it is dead-lettered."""
    stack.gateway.answer(400)
    message = await stack.submit(**fields)
    return await stack.wait_for_status(message["id"], "dead_lettered")


async def test_requeue_delivers_with_the_retry_count_reset(stack: Stack) -> None:
    stack.gateway.answer(503)
    stack.gateway.answer(400)
    message = await stack.submit()
    dead = await stack.wait_for_status(message["id"], "dead_lettered")
    assert dead["retry_count"] == 1
    assert dead["failure_class"] == "permanent"

    response = await stack.api.post(f"/v1/dead-letters/{message['id']}/requeue")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": message["id"], "outcome": "requeued", "status": "queued"}

    await stack.gateway.wait_for(message["id"], 3)
    await stack.wait_for_status(message["id"], "awaiting_ack")
    assert (await stack.api.post(f"/v1/messages/{message['id']}/ack")).status_code == 200
    delivered = await stack.wait_for_status(message["id"], "delivered")
    assert delivered["retry_count"] == 0
    attempts = [r.body["attempt"] for r in stack.gateway.for_message(message["id"])]
    assert attempts == [1, 2, 1]


async def test_discard_keeps_the_row_and_only_works_once(stack: Stack) -> None:
    message = await dead_letter(stack)
    response = await stack.api.delete(f"/v1/dead-letters/{message['id']}")
    assert response.status_code == 200
    assert response.json()["status"] == "discarded"
    assert (await stack.message(message["id"]))["status"] == "discarded"

    again = await stack.api.delete(f"/v1/dead-letters/{message['id']}")
    assert again.status_code == 409
    assert again.json()["current_status"] == "discarded"
    requeue = await stack.api.post(f"/v1/dead-letters/{message['id']}/requeue")
    assert requeue.status_code == 409


async def test_actions_on_other_messages_are_refused(stack: Stack) -> None:
    live = await stack.submit()
    await stack.wait_for_status(live["id"], "awaiting_ack")
    response = await stack.api.post(f"/v1/dead-letters/{live['id']}/requeue")
    assert response.status_code == 409
    assert response.json()["current_status"] == "awaiting_ack"
    assert "dead-lettered" in response.json()["detail"]
    unknown = await stack.api.delete(f"/v1/dead-letters/{uuid.uuid4()}")
    assert unknown.status_code == 404


async def test_bulk_requeue_answers_per_id(stack: Stack) -> None:
    dead = await dead_letter(stack)
    live = await stack.submit()
    await stack.wait_for_status(live["id"], "awaiting_ack")
    unknown = str(uuid.uuid4())

    response = await stack.api.post(
        "/v1/dead-letters/requeue", json={"message_ids": [dead["id"], live["id"], unknown]}
    )
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": dead["id"], "outcome": "requeued", "status": "queued"},
        {"id": live["id"], "outcome": "not_dead_lettered", "status": "awaiting_ack"},
        {"id": unknown, "outcome": "not_found", "status": None},
    ]
    too_many = [str(uuid.uuid4()) for _ in range(1001)]
    refused = await stack.api.post("/v1/dead-letters/requeue", json={"message_ids": too_many})
    assert refused.status_code == 422


@pytest.mark.parametrize("settings_overrides", [{"dlq_retention_hours": 1.5 / 3600}])
async def test_a_dead_letter_expires_after_the_retention(stack: Stack) -> None:
    message = await dead_letter(stack)
    expired = await stack.wait_for_status(message["id"], "expired")
    assert expired["failure_class"] == "permanent"
    page = (await stack.api.get("/v1/dead-letters", params={"recipient": "+14155550123"})).json()
    assert message["id"] not in {item["id"] for item in page["items"]}


async def test_list_pages_sorts_and_filters(stack: Stack) -> None:
    recipient = f"+4420718{uuid.uuid4().int % 100000:05d}"
    permanent = [(await dead_letter(stack, recipient=recipient))["id"] for _ in range(3)]
    stack.gateway.default_status = 503
    exhausted = await stack.submit(recipient=recipient)
    await stack.wait_for_status(exhausted["id"], "dead_lettered")

    async def listing(**params: Any) -> dict[str, Any]:
        response = await stack.api.get(
            "/v1/dead-letters", params={"recipient": recipient, **params}
        )
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    newest_first = await listing()
    assert newest_first["total"] == 4
    assert [m["id"] for m in newest_first["items"]] == [exhausted["id"], *permanent[::-1]]

    oldest_first = await listing(sort="created_at", page_size=2, page=2)
    assert [m["id"] for m in oldest_first["items"]] == [permanent[2], exhausted["id"]]
    assert (oldest_first["page"], oldest_first["page_size"]) == (2, 2)

    most_retried = await listing(sort="-retry_count", page_size=1)
    assert most_retried["items"][0]["id"] == exhausted["id"]
    assert most_retried["items"][0]["retry_count"] == stack.settings.max_retries

    transient = await listing(failure_class="transient")
    assert [m["id"] for m in transient["items"]] == [exhausted["id"]]

    for bad in ({"sort": "content"}, {"page_size": 501}, {"failure_class": "odd"}):
        response = await stack.api.get("/v1/dead-letters", params=bad)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


async def test_concurrent_requeues_of_one_message_requeue_it_once(stack: Stack) -> None:
    message = await dead_letter(stack)
    responses = await asyncio.gather(
        *(stack.api.post(f"/v1/dead-letters/{message['id']}/requeue") for _ in range(3))
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409]
