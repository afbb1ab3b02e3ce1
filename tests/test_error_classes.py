"""Error classes end to end: backoff timing, recoverable waits, validity."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from tests.gateway import Received
from tests.stack import Stack

TOLERANCE = 1.5
"""Timers on the dev server fire with about one second of granularity."""


def gaps(requests: list[Received]) -> list[float]:
    times = [request.at for request in requests]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_transient_failures_back_off_exponentially(stack: Stack) -> None:
    stack.gateway.answer(503, times=2)
    message = await stack.submit()
    requests = await stack.gateway.wait_for(message["id"], 3)
    first, second = gaps(requests)
    assert 1 <= first < 1 + TOLERANCE  # base delay
    assert 2 <= second < 2 + TOLERANCE  # base * 2, also the maximum here
    await stack.wait_for_status(message["id"], "awaiting_ack")
    assert (await stack.message(message["id"]))["retry_count"] == 2


async def test_429_waits_as_told_without_spending_the_budget(stack: Stack) -> None:
    stack.gateway.answer(429, times=3, headers={"Retry-After": "2"})
    message = await stack.submit()

    waiting = await stack.wait_for_status(message["id"], "retrying")
    assert waiting["failure_class"] == "recoverable"
    assert waiting["retry_count"] == 0
    delay = datetime.fromisoformat(waiting["next_retry_at"]) - datetime.fromisoformat(
        waiting["updated_at"]
    )
    assert delay.total_seconds() == pytest.approx(2, abs=0.01)

    requests = await stack.gateway.wait_for(message["id"], 4, timeout=30)
    assert all(2 <= gap < 2 + TOLERANCE for gap in gaps(requests))
    # More deferrals than the budget of three attempts allows, and still no retry spent.
    assert [r.body["attempt"] for r in requests] == [1, 1, 1, 1]
    accepted = await stack.wait_for_status(message["id"], "awaiting_ack")
    assert accepted["retry_count"] == 0


async def test_429_without_retry_after_is_transient(stack: Stack) -> None:
    stack.gateway.answer(429)
    message = await stack.submit()
    await stack.gateway.wait_for(message["id"], 2)
    accepted = await stack.wait_for_status(message["id"], "awaiting_ack")
    assert accepted["retry_count"] == 1
    assert accepted["failure_class"] == "transient"


@pytest.mark.parametrize("settings_overrides", [{"message_ttl_hours": 3 / 3600}])
async def test_a_message_past_its_validity_is_dead_lettered_as_expired(stack: Stack) -> None:
    stack.gateway.default_status = 429
    stack.gateway.default_headers = {"Retry-After": "2"}
    message = await stack.submit()
    dead = await stack.wait_for_status(message["id"], "dead_lettered")
    assert dead["failure_class"] == "expired"
    assert "validity" in dead["failure_reason"]
    assert dead["retry_count"] == 0
