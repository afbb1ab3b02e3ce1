"""Batch submits end to end: all-or-nothing validation, the size limit, per-item idempotency,
sequence numbers, and a batch at the default limit."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx
import pytest

from herald.core.models import Message
from herald.operations.workflows import StartOutcome, WorkflowGateway
from tests.stack import Stack

STARTED = {"queued", "sending", "awaiting_ack", "retrying"}
"""What a started message can be by the time the answer reads its row (acks come later)."""


@pytest.fixture
def recipient() -> str:
    """A number of the test's own, so listing by recipient counts only its messages."""
    return f"+491512{random.randrange(10**7):07d}"


def items(recipient: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {"recipient": recipient, "content": f"message {index}", **fields} for index in range(count)
    ]


async def post_batch(stack: Stack, messages: list[dict[str, Any]]) -> httpx.Response:
    """The answer waits for every workflow start: 1000 take seconds on a busy dev server."""
    # 1000 workflow starts on a busy dev server can take a while; the answer waits for them.
    return await stack.api.post("/v1/messages/batch", json={"messages": messages}, timeout=120)


async def stored_for(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    """The recipient's messages, oldest first."""
    page = await stack.api.get(
        "/v1/messages", params={"recipient": recipient, "sort": "created_at", "page_size": 500}
    )
    assert page.status_code == 200, page.text
    found: list[dict[str, Any]] = page.json()["items"]
    return found


async def count_for(stack: Stack, recipient: str) -> int:
    page = await stack.api.get("/v1/messages", params={"recipient": recipient, "page_size": 1})
    total: int = page.json()["total"]
    return total


def assert_refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


async def test_a_valid_batch_is_stored_started_and_delivered(stack: Stack, recipient: str) -> None:
    response = await post_batch(stack, items(recipient, 3, priority="high"))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["total"], answer["succeeded"], answer["failed"]) == (3, 3, 0)
    assert [result["index"] for result in answer["results"]] == [0, 1, 2]
    assert all(result["status"] in STARTED for result in answer["results"]), answer
    assert all("error" not in result or result["error"] is None for result in answer["results"])
    ids = [result["id"] for result in answer["results"]]
    stored = {message["id"]: message for message in await stored_for(stack, recipient)}
    assert set(stored) == set(ids)
    assert [stored[message_id]["content"] for message_id in ids] == [
        "message 0",
        "message 1",
        "message 2",
    ]

    for message_id in ids:
        await stack.wait_for_status(message_id, "awaiting_ack")
    acks = await stack.api.post("/v1/messages/ack", json={"message_ids": ids})
    assert {result["outcome"] for result in acks.json()["results"]} == {"acknowledged"}
    for message_id in ids:
        await stack.wait_for_status(message_id, "delivered")
        [request] = stack.gateway.for_message(message_id)
        assert request.body["priority"] == "high"


async def test_invalid_items_refuse_the_whole_batch(stack: Stack, recipient: str) -> None:
    messages = items(recipient, 5)
    messages[1]["recipient"] = "555-0123"
    messages[3]["content"] = ""
    problem = assert_refused(await post_batch(stack, messages), 422)

    listed = {(error["index"], error["field"]) for error in problem["errors"]}
    assert listed == {(1, "messages[1].recipient"), (3, "messages[3].content")}
    assert "messages[1].recipient: recipient must be in E.164 form" in problem["detail"]
    assert "messages[3].content: " in problem["detail"]
    assert await count_for(stack, recipient) == 0
    assert stack.gateway.received == []


@pytest.mark.parametrize("settings_overrides", [{"batch_size_limit": 3}], ids=["limit-3"])
async def test_a_batch_over_the_limit_is_refused_before_validation(
    stack: Stack, recipient: str
) -> None:
    messages = items(recipient, 4)
    messages[0]["recipient"] = "not a number"  # never looked at: the count refuses first
    problem = assert_refused(await post_batch(stack, messages), 413)
    assert "at most 3 messages" in problem["detail"]
    assert "HERALD_BATCH_SIZE_LIMIT" in problem["detail"]

    accepted = await post_batch(stack, items(recipient, 3))
    assert accepted.status_code == 202, accepted.text
    assert await count_for(stack, recipient) == 3


async def test_an_empty_batch_is_refused(stack: Stack) -> None:
    problem = assert_refused(await post_batch(stack, []), 422)
    assert [error["field"] for error in problem["errors"]] == ["messages"]
    missing = assert_refused(await stack.api.post("/v1/messages/batch", json={}), 422)
    assert "messages: Field required" in missing["detail"]


async def test_a_key_used_twice_in_one_batch_is_refused(stack: Stack, recipient: str) -> None:
    messages = items(recipient, 3)
    for message in messages:
        message["idempotency_key"] = "same-key"
    problem = assert_refused(await post_batch(stack, messages), 422)
    assert {(error["index"], error["field"]) for error in problem["errors"]} == {
        (1, "messages[1].idempotency_key"),
        (2, "messages[2].idempotency_key"),
    }
    assert "repeats the key of messages[0]" in problem["detail"]
    assert await count_for(stack, recipient) == 0


async def test_item_keys_replay_or_fail_one_item_only(stack: Stack, recipient: str) -> None:
    keys = [f"item-{uuid.uuid4()}" for _ in range(3)]
    first = await post_batch(
        stack,
        [
            {"recipient": recipient, "content": "one", "idempotency_key": keys[0]},
            {"recipient": recipient, "content": "two", "idempotency_key": keys[1]},
        ],
    )
    assert first.status_code == 202, first.text
    original_ids = [result["id"] for result in first.json()["results"]]

    second = await post_batch(
        stack,
        [
            {"recipient": recipient, "content": "one", "idempotency_key": keys[0]},
            {"recipient": recipient, "content": "changed", "idempotency_key": keys[1]},
            {"recipient": recipient, "content": "three", "idempotency_key": keys[2]},
            {"recipient": recipient, "content": "four"},
        ],
    )
    assert second.status_code == 202, second.text
    answer = second.json()
    assert (answer["total"], answer["succeeded"], answer["failed"]) == (4, 3, 1)
    replay, conflict, new, unkeyed = answer["results"]
    assert replay["id"] == original_ids[0]
    assert replay["replayed"] is True
    assert replay["status"] in STARTED
    assert conflict["id"] is None
    assert conflict["status"] is None
    assert keys[1] in conflict["error"]
    assert "different request" in conflict["error"]
    assert new["replayed"] is False
    assert {new["status"], unkeyed["status"]} <= STARTED
    assert await count_for(stack, recipient) == 4

    single = await stack.api.post(
        "/v1/messages",
        json={"recipient": recipient, "content": "two"},
        headers={"Idempotency-Key": keys[1]},
    )
    assert single.status_code == 200, single.text
    assert single.json()["id"] == original_ids[1]


async def test_strict_items_take_consecutive_sequence_numbers(stack: Stack, recipient: str) -> None:
    messages = items(recipient, 4, ordering="strict")
    messages[2]["ordering"] = "best_effort"
    response = await post_batch(stack, messages)
    assert response.status_code == 202, response.text
    ids = [result["id"] for result in response.json()["results"]]
    numbers = [(await stack.message(message_id))["sequence_number"] for message_id in ids]
    assert numbers == [1, 2, None, 3]

    single = await stack.submit(recipient=recipient, ordering="strict")
    assert single["sequence_number"] == 4


async def test_simultaneous_batches_with_the_same_keys_store_one_set(
    stack: Stack, recipient: str
) -> None:
    messages = [
        {**message, "idempotency_key": f"same-{recipient}-{index}"}
        for index, message in enumerate(items(recipient, 3, ordering="strict"))
    ]
    answers = await asyncio.gather(*(post_batch(stack, messages) for _ in range(8)))
    assert [answer.status_code for answer in answers] == [202] * 8, [a.text for a in answers]
    results = [answer.json()["results"] for answer in answers]
    assert len({tuple(result["id"] for result in batch) for batch in results}) == 1
    replayed = sorted(all(result["replayed"] for result in batch) for batch in results)
    assert replayed == [False] + [True] * 7
    stored = await stored_for(stack, recipient)
    assert sorted(message["sequence_number"] for message in stored) == [1, 2, 3]
    # the batches that rolled back gave their sequence numbers back
    assert (await stack.submit(recipient=recipient, ordering="strict"))["sequence_number"] == 4


async def test_an_item_temporal_does_not_start_stays_pending(
    stack: Stack, recipient: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_workflow = WorkflowGateway.start_workflow

    async def start_unless_odd(gateway: WorkflowGateway, message: Message) -> StartOutcome:
        """Temporal "does not answer" for odd-numbered contents."""
        if int(message.content.removeprefix("message ")) % 2:
            return StartOutcome.UNREACHABLE
        return await start_workflow(gateway, message)

    monkeypatch.setattr(WorkflowGateway, "start_workflow", start_unless_odd)
    response = await post_batch(stack, items(recipient, 4))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["succeeded"], answer["failed"]) == (4, 0)
    statuses = [result["status"] for result in answer["results"]]
    assert statuses[1] == statuses[3] == "pending"
    assert {statuses[0], statuses[2]} <= STARTED
    pending = answer["results"][1]["id"]
    assert (await stack.message(pending))["status"] == "pending"
    assert stack.gateway.for_message(pending) == []


async def test_a_batch_at_the_default_limit_is_stored(stack: Stack, recipient: str) -> None:
    limit = stack.settings.batch_size_limit
    assert limit == 1000
    response = await post_batch(stack, items(recipient, limit))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["total"], answer["succeeded"], answer["failed"]) == (limit, limit, 0)
    assert len({result["id"] for result in answer["results"]}) == limit
    assert {result["status"] for result in answer["results"]} <= STARTED
    assert await count_for(stack, recipient) == limit
