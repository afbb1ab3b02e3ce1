"""Priorities under a backlog, the worker's concurrency cap and the provider's pace."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.stack import Stack
from tests.tenancy import as_key, new_tenant

ONE_AT_A_TIME = {"max_concurrent_deliveries": 1, "ack_timeout_seconds": 60}


def arrivals(stack: Stack) -> list[str]:
    """The priority of each request the gateway received, in order."""
    return [request.body["priority"] for request in stack.gateway.received]


async def submit(stack: Stack, priority: str, count: int) -> list[dict[str, Any]]:
    recipient = f"+4930{uuid.uuid4().int % 10**8:08d}"
    return [await stack.submit(recipient=recipient, priority=priority) for _ in range(count)]


async def wait_until_all_sent(stack: Stack, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await stack.gateway.wait_for(message["id"], 1, timeout=60)


@pytest.mark.parametrize("settings_overrides", [ONE_AT_A_TIME])
async def test_high_overtakes_a_backlog_and_low_still_completes(stack: Stack) -> None:
    stack.gateway.latency = 0.2
    low = await submit(stack, "low", 20)
    high = await submit(stack, "high", 5)
    await wait_until_all_sent(stack, low + high)

    order = arrivals(stack)
    last_high = max(i for i, priority in enumerate(order) if priority == "high")
    lows_after_high = order[last_high + 1 :].count("low")
    assert lows_after_high >= 8, f"high did not overtake the low backlog: {order}"
    assert order.count("low") == 20


@pytest.mark.parametrize("settings_overrides", [ONE_AT_A_TIME])
async def test_low_is_not_starved_by_a_steady_stream_of_high(stack: Stack) -> None:
    stack.gateway.latency = 0.2
    high = await submit(stack, "high", 30)
    low = await submit(stack, "low", 5)
    await wait_until_all_sent(stack, high + low)

    order = arrivals(stack)
    first_low = order.index("low")
    last_high = max(i for i, priority in enumerate(order) if priority == "high")
    # Strict priority would send every waiting high first; a fair share lets low through.
    assert first_low < last_high, f"low waited for every high: {order}"


@pytest.mark.parametrize(
    "settings_overrides", [{"max_concurrent_deliveries": 2, "ack_timeout_seconds": 60}]
)
async def test_the_worker_runs_at_most_the_configured_deliveries_at_once(stack: Stack) -> None:
    stack.gateway.latency = 0.5
    messages = await submit(stack, "normal", 6)
    await wait_until_all_sent(stack, messages)
    assert stack.gateway.most_in_flight == 2


@pytest.mark.parametrize(
    "settings_overrides", [{"provider_max_per_second": 2, "ack_timeout_seconds": 60}]
)
async def test_the_provider_pace_caps_deliveries_per_second(stack: Stack) -> None:
    messages = await submit(stack, "normal", 8)
    started = time.monotonic()
    await wait_until_all_sent(stack, messages)
    span = stack.gateway.received[-1].at - stack.gateway.received[0].at
    assert span >= 2, f"8 deliveries at 2/s took only {span:.2f}s"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("settings_overrides", [ONE_AT_A_TIME])
async def test_tenants_share_capacity_and_priority_holds_inside_each(stack: Stack) -> None:
    """One tenant's backlog of 600 does not hold up another tenant's 10 messages of the
    same priority, and the busy tenant's own high messages still overtake its backlog."""
    stack.gateway.latency = 0.02
    busy = await new_tenant(stack.api, "messages:write")
    quiet = await new_tenant(stack.api, "messages:write")
    async with as_key(stack.api, busy.key) as as_busy, as_key(stack.api, quiet.key) as as_quiet:
        backlog = await submit_batch(as_busy, "normal", 600)
        urgent = await submit_batch(as_busy, "high", 5)
        few = await submit_batch(as_quiet, "normal", 10)
        await wait_until_all_sent(stack, few + urgent)

    order = [request.body["id"] for request in stack.gateway.received]
    backlog_ids = {message["id"] for message in backlog}

    def backlog_sent_before_all_of(messages: list[dict[str, Any]]) -> int:
        last = max(order.index(message["id"]) for message in messages)
        return len(backlog_ids.intersection(order[:last]))

    assert backlog_sent_before_all_of(few) < 150, "the other tenant waited for the backlog"
    assert backlog_sent_before_all_of(urgent) < 150, "high did not overtake its tenant's backlog"


async def submit_batch(
    client: httpx.AsyncClient, priority: str, count: int
) -> list[dict[str, Any]]:
    """``count`` messages to one new recipient in one batch; their results."""
    recipient = f"+4930{uuid.uuid4().int % 10**8:08d}"
    messages = [
        {"recipient": recipient, "content": f"m{i}", "priority": priority} for i in range(count)
    ]
    response = await client.post("/v1/messages/batch", json={"messages": messages})
    assert response.status_code == 202, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results
