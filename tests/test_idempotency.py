"""Idempotent submits end to end: replay, conflict, expiry and concurrent claims of one key."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid

import httpx
import pytest

from tests.stack import Stack

ONE_SECOND_IN_HOURS = 1 / 3600


@pytest.fixture
def recipient() -> str:
    """A number of the test's own, so listing by recipient counts only its messages."""
    return f"+491512{random.randrange(10**7):07d}"


@pytest.fixture
def key() -> str:
    return f"order-{uuid.uuid4()}"


async def submit(stack: Stack, key: str, recipient: str, content: str = "hello") -> httpx.Response:
    return await stack.api.post(
        "/v1/messages",
        json={"recipient": recipient, "content": content},
        headers={"Idempotency-Key": key},
    )


async def stored_for(stack: Stack, recipient: str) -> int:
    page = await stack.api.get("/v1/messages", params={"recipient": recipient})
    total: int = page.json()["total"]
    return total


async def test_the_same_key_and_body_replay_the_original_message(
    stack: Stack, key: str, recipient: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = await submit(stack, key, recipient)
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    message = first.json()
    assert message["idempotency_key"] == key

    with caplog.at_level(logging.INFO, logger="herald.operations.idempotency"):
        again = await submit(stack, key, recipient)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == message["id"]
    [replay] = [r for r in caplog.records if r.getMessage() == "idempotent replay"]
    assert {"message_id": message["id"], "key": key}.items() <= vars(replay).items()

    assert await stored_for(stack, recipient) == 1
    await stack.wait_for_status(message["id"], "awaiting_ack")
    assert [r.body["id"] for r in stack.gateway.received] == [message["id"]]


async def test_a_body_that_validates_the_same_replays(
    stack: Stack, key: str, recipient: str
) -> None:
    first = await submit(stack, key, recipient)
    assert first.status_code == 202, first.text
    spelled_out = f"{recipient[:3]} {recipient[3:7]} {recipient[7:]}"
    again = await stack.api.post(
        "/v1/messages",
        json={"recipient": spelled_out, "content": "hello", "priority": "normal"},
        headers={"Idempotency-Key": key},
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]


async def test_the_same_key_with_another_body_is_a_conflict(
    stack: Stack, key: str, recipient: str
) -> None:
    first = await submit(stack, key, recipient, content="one")
    assert first.status_code == 202, first.text
    second = await submit(stack, key, recipient, content="two")
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    detail = second.json()["detail"]
    assert key in detail
    assert "different request" in detail
    assert "held until" in detail
    assert await stored_for(stack, recipient) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"idempotency_ttl_hours": ONE_SECOND_IN_HOURS}], ids=["ttl-1s"]
)
async def test_an_expired_key_is_free_again(stack: Stack, key: str, recipient: str) -> None:
    first = await submit(stack, key, recipient, content="one")
    assert first.status_code == 202, first.text
    await asyncio.sleep(1.2)

    second = await submit(stack, key, recipient, content="two")
    assert second.status_code == 202, second.text
    assert second.json()["id"] != first.json()["id"]
    assert second.json()["idempotency_key"] == key
    replay = await submit(stack, key, recipient, content="two")
    assert replay.status_code == 200, replay.text
    assert replay.json()["id"] == second.json()["id"]
    assert await stored_for(stack, recipient) == 2


async def test_simultaneous_submits_with_one_key_store_one_message(
    stack: Stack, key: str, recipient: str
) -> None:
    answers = await asyncio.gather(*(submit(stack, key, recipient) for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await stored_for(stack, recipient) == 1


async def test_keyless_submits_leave_their_connections_transactional_for_claims(
    stack: Stack, key: str, recipient: str
) -> None:
    """A submit without a key is one INSERT, committed by itself (autocommit). The pooled
    connections it used must begin transactions again: the losers of a claim roll their rows
    back, so interleaved with keyless submits one key still stores one message."""
    keyless = [
        stack.api.post("/v1/messages", json={"recipient": recipient, "content": f"n{n}"})
        for n in range(20)
    ]
    claims = [submit(stack, key, recipient) for _ in range(10)]
    answers = await asyncio.gather(*keyless, *claims)
    assert [a.status_code for a in answers[:20]] == [202] * 20, [a.text for a in answers]
    assert sorted(a.status_code for a in answers[20:]) == [200] * 9 + [202]
    assert await stored_for(stack, recipient) == 21
