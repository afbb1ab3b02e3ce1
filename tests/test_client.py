"""``herald.client`` against the real API, and the ``herald messages|dead-letters|webhooks``
commands built on it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from herald.client import (
    AsyncHeraldClient,
    Conflict,
    Forbidden,
    HeraldClient,
    InvalidSignature,
    NotFound,
    RateLimited,
    RetryPolicy,
    Unavailable,
    ValidationFailed,
    verify_webhook,
)
from herald.core import webhooks
from tests.stack import API_KEY, Stack, all_delivered
from tests.tenancy import new_tenant
from tests.test_ordering import unique_recipient

HERALD = str(Path(sys.executable).parent / "herald")


def base_url(stack: Stack) -> str:
    return str(stack.api.base_url)


async def test_the_async_client_sends_reads_pages_and_maps_errors(stack: Stack) -> None:
    recipient = unique_recipient()
    async with AsyncHeraldClient(base_url(stack), API_KEY) as herald:
        sent = [await herald.send(recipient, f"part {i}", metadata={"i": str(i)}) for i in range(5)]
        assert sent[0].idempotency_key != str(sent[0].id), "the client names its own key"
        again = await herald.send(
            recipient, "part 0", metadata={"i": "0"}, idempotency_key=sent[0].idempotency_key
        )
        assert again.id == sent[0].id
        listed = [m async for m in herald.iter_messages(recipient=recipient, page_size=2)]
        assert {m.id for m in listed} == {m.id for m in sent}
        assert (await herald.get_message(sent[1].id)).content == "part 1"

        with pytest.raises(NotFound):
            await herald.get_message(uuid.uuid4())
        with pytest.raises(ValidationFailed) as invalid:
            await herald.send("not a number", "x")
        assert invalid.value.errors[0]["field"] == "recipient"
        await stack.wait_for_status(str(sent[2].id), "awaiting_ack")
        with pytest.raises(Conflict) as refused:
            await herald.cancel(sent[2].id)
        assert refused.value.current_status == "awaiting_ack"
        assert (await herald.acknowledge(sent[2].id)).outcome == "acknowledged"


async def test_the_blocking_client_does_the_same(stack: Stack) -> None:
    reader = await new_tenant(stack.api, "messages:read")

    def use() -> None:
        with HeraldClient(base_url(stack), API_KEY) as herald:
            message = herald.send(unique_recipient(), "hello", priority="low")
            assert herald.get_message(message.id).priority == "low"
            assert [a.outcome for a in herald.attempts(message.id).items] in ([], ["accepted"])
        with HeraldClient(base_url(stack), reader.key) as herald, pytest.raises(Forbidden):
            herald.send(unique_recipient(), "hello")

    await asyncio.to_thread(use)


async def test_a_rate_limited_send_waits_as_told_and_goes_through(stack: Stack) -> None:
    tenant = await new_tenant(
        stack.api, "messages:write", rate_limit_per_second=1, rate_limit_burst=1
    )
    async with AsyncHeraldClient(base_url(stack), tenant.key) as herald:
        await herald.send(unique_recipient(), "first")
        started = time.monotonic()
        await herald.send(unique_recipient(), "second")  # a 429 with Retry-After: 1 first
        assert time.monotonic() - started >= 0.9
    async with AsyncHeraldClient(
        base_url(stack), tenant.key, retries=RetryPolicy(max_attempts=1)
    ) as impatient:
        with pytest.raises(RateLimited) as refused:
            await impatient.send(unique_recipient(), "third")
    assert refused.value.retry_after == 1


async def test_a_503_is_retried_after_its_retry_after() -> None:
    """The retry rule alone, on a transport that answers 503 once (the real API answers 503
    only when PostgreSQL or Temporal is down, which the fault tests cover)."""
    answers = [
        httpx.Response(503, headers={"Retry-After": "0.2"}, json={"title": "Unavailable"}),
        httpx.Response(204),
    ]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    async with AsyncHeraldClient("http://herald", "k", transport=transport) as herald:
        started = time.monotonic()
        await herald.lift_suppression("+14155550123")
    assert not answers, "the 503 was sent again"
    assert time.monotonic() - started >= 0.2
    once = [httpx.Response(503, headers={"Retry-After": "0"}, json={"title": "Unavailable"})]
    transport = httpx.MockTransport(lambda request: once[0])
    retries = RetryPolicy(max_attempts=2)
    async with AsyncHeraldClient("http://h", "k", transport=transport, retries=retries) as herald:
        with pytest.raises(Unavailable):
            await herald.lift_suppression("+14155550123")


def test_a_webhook_is_verified_with_the_endpoint_secret() -> None:
    secret = webhooks.generate_secret()
    body = json.dumps({"type": "message.delivered", "timestamp": "t", "data": {}}).encode()
    headers = webhooks.sign(secret, "evt_1", body)
    assert verify_webhook(secret, headers, body)["type"] == "message.delivered"
    with pytest.raises(InvalidSignature):
        verify_webhook(secret, headers, body.replace(b"delivered", b"discarded"))
    with pytest.raises(InvalidSignature):
        verify_webhook(webhooks.generate_secret(), headers, body)


def herald_command(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HERALD_")}
    env |= {"HERALD_API_URL": base_url(stack), "HERALD_API_KEY": API_KEY}
    return subprocess.run(
        [HERALD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_the_operator_commands(stack: Stack) -> None:
    recipient = unique_recipient()
    sent = await asyncio.to_thread(
        herald_command, stack, "messages", "send", recipient, "from the CLI", "--json"
    )
    assert sent.returncode == 0, sent.stderr
    message = json.loads(sent.stdout)
    listed = await asyncio.to_thread(
        herald_command, stack, "messages", "list", "--recipient", recipient
    )
    assert message["id"] in listed.stdout and "recipient" in listed.stdout.splitlines()[0]
    shown = await asyncio.to_thread(
        herald_command, stack, "messages", "get", message["id"], "--json"
    )
    assert json.loads(shown.stdout)["content"] == "from the CLI"
    missing = await asyncio.to_thread(herald_command, stack, "messages", "get", str(uuid.uuid4()))
    assert missing.returncode == 1 and "404" in missing.stderr

    # Delivered first, so that no retry of it takes the refusal scripted for the next one.
    await all_delivered(stack, [message["id"]])
    stack.gateway.answer(400)
    refused_recipient = unique_recipient()
    dead = await stack.submit(recipient=refused_recipient)
    await stack.wait_for_status(dead["id"], "dead_lettered")
    dead_letters = await asyncio.to_thread(
        herald_command, stack, "dead-letters", "list", "--recipient", refused_recipient, "--json"
    )
    assert [d["id"] for d in json.loads(dead_letters.stdout)] == [dead["id"]]
    discarded = await asyncio.to_thread(
        herald_command, stack, "dead-letters", "discard", dead["id"]
    )
    assert discarded.returncode == 0 and "discarded" in discarded.stdout

    created = await asyncio.to_thread(
        herald_command,
        stack,
        "webhooks",
        "create",
        "https://hooks.example/herald",
        "--event",
        "message.delivered",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    endpoint = json.loads(created.stdout)
    assert endpoint["secret"].startswith("whsec_")
    hooks = await asyncio.to_thread(herald_command, stack, "webhooks", "list")
    assert endpoint["id"] in hooks.stdout and "whsec_" not in hooks.stdout
    deleted = await asyncio.to_thread(herald_command, stack, "webhooks", "delete", endpoint["id"])
    assert deleted.returncode == 0, deleted.stderr
