"""The circuit breaker in the delivery path, against a gateway that fails on command."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.stack import Stack

BREAKER = {
    "circuit_breaker_sample_size": 4,
    "circuit_breaker_failure_threshold": 0.5,
    "circuit_breaker_timeout_seconds": 3,
    "max_retries": 5,
}


async def breaker_state(stack: Stack) -> dict[str, Any] | None:
    """The ``http`` provider's breaker, or None before its first delivery."""
    response = await stack.api.get("/v1/circuit-breakers")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return next((item for item in items if item["provider"] == "http"), None)


async def wait_for_breaker(stack: Stack, state: str, timeout: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while (breaker := await breaker_state(stack)) is None or breaker["state"] != state:
            await asyncio.sleep(0.1)
    return breaker


@pytest.mark.parametrize("settings_overrides", [BREAKER])
async def test_breaker_opens_holds_back_then_probes_and_closes(stack: Stack) -> None:
    stack.gateway.default_status = 503
    messages = [await stack.submit() for _ in range(2)]

    opened = await wait_for_breaker(stack, "open")
    assert opened["failure_rate"] >= 0.5
    assert opened["opened_at"] is not None

    # While open nothing reaches the gateway, and waiting spends no retry budget.
    sent_when_opened = len(stack.gateway.received)
    async with asyncio.timeout(10):
        while (held := await stack.message(messages[0]["id"]))["failure_class"] != "recoverable":
            await asyncio.sleep(0.1)
    assert held["status"] == "retrying"
    assert "circuit" in held["failure_reason"]
    assert len(stack.gateway.received) == sent_when_opened

    # After the open timeout one probe goes out; the gateway is healthy again, so it closes.
    stack.gateway.default_status = 200
    await wait_for_breaker(stack, "closed")
    for message in messages:
        await stack.wait_for_status(message["id"], "awaiting_ack")
    assert (await wait_for_breaker(stack, "closed"))["failure_rate"] == 0


@pytest.mark.parametrize("settings_overrides", [BREAKER])
async def test_a_failed_probe_reopens_the_breaker(stack: Stack) -> None:
    stack.gateway.default_status = 503
    message = await stack.submit()
    first = await wait_for_breaker(stack, "open")
    await asyncio.sleep(3.5)  # past the open timeout: the next attempt is a probe, and fails
    reopened = await wait_for_breaker(stack, "open")
    assert reopened["opened_at"] > first["opened_at"]
    stack.gateway.default_status = 200
    await stack.wait_for_status(message["id"], "awaiting_ack", timeout=30)


@pytest.mark.parametrize("settings_overrides", [BREAKER])
async def test_a_storm_of_refused_recipients_does_not_open_the_breaker(stack: Stack) -> None:
    stack.gateway.default_status = 400
    messages = [await stack.submit() for _ in range(8)]
    for message in messages:
        await stack.wait_for_status(message["id"], "dead_lettered")
    breaker = await wait_for_breaker(stack, "closed")
    assert breaker["failure_rate"] == 0
    assert breaker["samples"] == 4
    assert len(stack.gateway.received) == 8
