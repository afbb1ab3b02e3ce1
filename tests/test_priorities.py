"""Priorities under a backlog, the worker's concurrency cap and the provider's pace."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.stack import Stack

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
