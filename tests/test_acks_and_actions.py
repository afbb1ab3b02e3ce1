"""Acks count only for a message the provider accepted, and once however many race, and
operator actions answer what happened, also when they race an ack or the dead-letter
retention."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from herald.core.contract import workflow_id_for
from tests.receiver import WebhookReceiver
from tests.stack import Stack
from tests.tenancy import as_key, new_tenant
from tests.test_outcome_webhooks import receiving, register, submit

NEVER_ACKED = {"max_retries": 0, "ack_timeout_seconds": 1}
"""Accepted once, never acknowledged: a dead letter whose late ack is legitimate."""


async def ack(stack: Stack, message_id: str) -> tuple[int, dict[str, Any]]:
    response = await stack.api.post(f"/v1/messages/{message_id}/ack")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_a_message_the_provider_refused_takes_no_ack(stack: Stack) -> None:
    stack.gateway.answer(400)
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "dead_lettered")
    status, problem = await ack(stack, message["id"])
    assert status == 409
    assert problem["current_status"] == "dead_lettered"
    assert "accepted" in problem["detail"]
    assert (await stack.message(message["id"]))["status"] == "dead_lettered"


async def test_a_message_only_ever_answered_503_takes_no_ack(stack: Stack) -> None:
    stack.gateway.default_status = 503
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "retrying")
    assert (await ack(stack, message["id"]))[0] == 409
    await stack.wait_for_status(message["id"], "dead_lettered")
    status, problem = await ack(stack, message["id"])
    assert status == 409
    assert problem["current_status"] == "dead_lettered"


@pytest.mark.parametrize(("answer", "outcome"), [(200, 200), (503, 409)])
async def test_an_ack_during_the_attempt_waits_for_what_the_provider_answered(
    stack: Stack, answer: int, outcome: int
) -> None:
    """A gateway may ack before Herald has recorded its answer: the ack counts once that
    answer is recorded as an acceptance, and is refused if it was not one."""
    stack.gateway.latency = 1.0
    stack.gateway.answer(answer)
    message = await stack.submit()
    await stack.gateway.wait_for(message["id"], 1)
    assert (await stack.message(message["id"]))["status"] == "sending"
    status, result = await ack(stack, message["id"])
    assert status == outcome, result
    if answer == 200:
        assert result["outcome"] == "acknowledged"
        await stack.wait_for_status(message["id"], "delivered")
    else:
        assert result["current_status"] == "retrying"


@pytest.mark.parametrize("settings_overrides", [{"max_retries": 1, "ack_timeout_seconds": 1}])
async def test_a_late_ack_delivers_an_accepted_dead_letter_and_clears_its_failure(
    stack: Stack,
) -> None:
    stack.gateway.answer(200)
    stack.gateway.answer(400)
    message = await stack.submit()
    dead = await stack.wait_for_status(message["id"], "dead_lettered")
    assert dead["failure_class"] == "permanent"
    assert dead["accepted_at"] is not None

    status, result = await ack(stack, message["id"])
    assert status == 200, result
    assert result["outcome"] == "acknowledged"
    delivered = await stack.wait_for_status(message["id"], "delivered")
    assert (delivered["failure_class"], delivered["failure_reason"]) == (None, None)


async def test_a_bulk_ack_signals_each_message_once(stack: Stack, temporal_client: Client) -> None:
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "awaiting_ack")
    response = await stack.api.post(
        "/v1/messages/ack", json={"message_ids": [message["id"]] * 1000}
    )
    assert response.status_code == 200, response.text
    assert [r["outcome"] for r in response.json()["results"]] == ["acknowledged"]
    await stack.wait_for_status(message["id"], "delivered")

    history = await temporal_client.get_workflow_handle(
        workflow_id_for(message["id"])
    ).fetch_history()
    signals = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert len(signals) == 1


async def test_acks_racing_each_other_deliver_and_report_the_message_once(stack: Stack) -> None:
    """Twenty acks at once, through both routes, as a gateway retrying its callbacks might
    send them: each is answered 200, and the message is sent once and reported once."""
    receiver = WebhookReceiver()
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write")
    async with receiving(receiver) as url, as_key(stack.api, tenant.key) as client:
        await register(client, f"{url}/hooks")
        message = await submit(client)
        await stack.wait_for_status(message["id"], "awaiting_ack")
        single = [ack(stack, message["id"]) for _ in range(10)]
        bulk = [
            stack.api.post("/v1/messages/ack", json={"message_ids": [message["id"]]})
            for _ in range(10)
        ]
        answers, bulk_answers = await asyncio.gather(asyncio.gather(*single), asyncio.gather(*bulk))
        await stack.wait_for_status(message["id"], "delivered")
        [hook] = await receiver.wait_for("/hooks", 1)
        await asyncio.sleep(2)  # time for a second report, were there one

    outcomes = [body["outcome"] for status, body in answers if status == 200]
    outcomes += [r.json()["results"][0]["outcome"] for r in bulk_answers if r.status_code == 200]
    assert len(outcomes) == 20, (answers, [r.text for r in bulk_answers])
    assert set(outcomes) <= {"acknowledged", "already_delivered"}
    assert "acknowledged" in outcomes
    assert len(stack.gateway.for_message(message["id"])) == 1
    assert receiver.at("/hooks") == [hook]
    assert hook.event["type"] == "message.delivered"


@pytest.mark.parametrize("settings_overrides", [NEVER_ACKED])
async def test_a_discard_racing_an_ack_answers_what_happened(stack: Stack) -> None:
    messages = [await stack.submit(content=f"race {i}") for i in range(8)]
    for message in messages:
        await stack.wait_for_status(message["id"], "dead_lettered")

    async def race(message_id: str) -> tuple[int, dict[str, Any], str]:
        discard, _ = await asyncio.gather(
            stack.api.delete(f"/v1/dead-letters/{message_id}"),
            stack.api.post(f"/v1/messages/{message_id}/ack"),
        )
        final = await settled(stack, message_id)
        return discard.status_code, discard.json(), final

    for status, answer, final in await asyncio.gather(*(race(m["id"]) for m in messages)):
        if status == 200:
            assert answer["status"] == "discarded" == final
        else:
            assert status == 409, answer
            assert answer["current_status"] == final == "delivered"


@pytest.mark.parametrize("settings_overrides", [{"dlq_retention_hours": 1 / 3600}])
async def test_a_requeue_racing_the_retention_answers_what_happened(stack: Stack) -> None:
    stack.gateway.default_status = 400
    messages = [await stack.submit(content=f"race {i}") for i in range(6)]
    for message in messages:
        await stack.wait_for_status(message["id"], "dead_lettered")
    stack.gateway.default_status = 200
    await asyncio.sleep(0.8)  # about when the retention passes
    answers = await asyncio.gather(
        *(stack.api.post(f"/v1/dead-letters/{m['id']}/requeue") for m in messages)
    )
    for message, answer in zip(messages, answers, strict=True):
        final = await settled(stack, message["id"], also={"queued", "sending", "awaiting_ack"})
        if answer.status_code == 200:
            assert answer.json()["status"] == "queued"
            assert final != "expired"
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["current_status"] == final == "expired"


async def settled(
    stack: Stack, message_id: str, also: frozenset[str] | set[str] = frozenset()
) -> str:
    """The message's status once it has left ``dead_lettered`` (for one of the final
    statuses, or one of ``also``)."""
    async with asyncio.timeout(15):
        while True:
            status: str = (await stack.message(message_id))["status"]
            if status in {"delivered", "discarded", "expired"} | set(also):
                return status
            await asyncio.sleep(0.1)
