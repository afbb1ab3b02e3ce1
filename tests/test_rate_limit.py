"""Rate limiting of submits: the token bucket on a fake clock, then end to end — 429 with
``Retry-After`` over the limit, the ``high``-priority bypass, batches counted per message and
refused whole, recovery after the wait, and a bucket per API key."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from herald.api.ratelimit import RateLimiter, TokenBucket
from herald.core.errors import TooManyRequests
from tests.stack import API_KEY, Stack

OTHER_KEY = "other-test-key"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_full_bucket_lets_a_burst_through_then_refuses() -> None:
    bucket = TokenBucket.full(rate=2, capacity=4, now=0)
    assert [bucket.take(1, now=0) for _ in range(4)] == [0, 0, 0, 0]
    assert bucket.take(1, now=0) == pytest.approx(0.5)
    assert bucket.tokens == 0  # a refusal spends nothing


def test_the_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    bucket = TokenBucket.full(rate=2, capacity=4, now=0)
    assert bucket.take(4, now=0) == 0
    assert bucket.take(3, now=1) == pytest.approx(0.5)  # 2 tokens after 1 s
    assert bucket.take(3, now=1.5) == 0
    assert bucket.take(4, now=100) == 0  # never more than the capacity
    assert bucket.take(1, now=100) == pytest.approx(0.5)


def test_a_cost_above_the_capacity_needs_a_full_bucket_and_leaves_a_debt() -> None:
    bucket = TokenBucket.full(rate=1, capacity=3, now=0)
    assert bucket.take(1, now=0) == 0
    assert bucket.take(5, now=0) == pytest.approx(1)  # waits for a full bucket, not for 5
    assert bucket.take(5, now=1) == 0
    assert bucket.tokens == -2
    assert bucket.take(1, now=1) == pytest.approx(3)  # the debt is refilled first


def limiter(clock: FakeClock, per_second: float = 1, burst: int = 3) -> RateLimiter:
    return RateLimiter(per_second, burst, clock)


def test_retry_after_is_whole_seconds_rounded_up_and_the_detail_names_the_limit() -> None:
    clock = FakeClock()
    limits = limiter(clock, per_second=0.4, burst=2)
    limits.charge("key", 2)
    clock.advance(1)  # 0.4 tokens back; 1 more needs 1.5 s
    with pytest.raises(TooManyRequests) as refused:
        limits.charge("key", 1)
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "2"}
    assert "0.4 messages a second with bursts of 2" in refused.value.detail
    assert "HERALD_RATE_LIMIT_PER_SECOND" in refused.value.detail
    assert "this request counts 1" in refused.value.detail
    clock.advance(1.5)
    limits.charge("key", 1)


def test_each_key_has_its_own_bucket_and_a_cost_of_zero_always_passes() -> None:
    clock = FakeClock()
    limits = limiter(clock)
    limits.charge("a", 3)
    with pytest.raises(TooManyRequests):
        limits.charge("a", 1)
    limits.charge("a", 0)
    limits.charge("b", 3)


# End to end: a message every 2 s (slow enough that the requests of a step fit in one
# token's refill even on a busy machine), bursts of 3, two API keys.
LIMITED: dict[str, Any] = {
    "rate_limit_per_second": 0.5,
    "rate_limit_burst": 3,
    "api_keys": [API_KEY, OTHER_KEY],
}


@pytest.fixture
def recipient() -> str:
    """A number of the test's own, so listing by recipient counts only its messages."""
    return f"+491513{random.randrange(10**7):07d}"


async def submit(
    stack: Stack, recipient: str, priority: str = "normal", key: str = API_KEY
) -> httpx.Response:
    return await stack.api.post(
        "/v1/messages",
        json={"recipient": recipient, "content": "hello", "priority": priority},
        headers={"Authorization": f"Bearer {key}"},
    )


async def submit_batch(stack: Stack, recipient: str, *priorities: str) -> httpx.Response:
    messages = [
        {"recipient": recipient, "content": f"message {index}", "priority": priority}
        for index, priority in enumerate(priorities)
    ]
    return await stack.api.post("/v1/messages/batch", json={"messages": messages})


async def stored_for(stack: Stack, recipient: str) -> int:
    page = await stack.api.get("/v1/messages", params={"recipient": recipient, "page_size": 1})
    assert page.status_code == 200, page.text
    total: int = page.json()["total"]
    return total


def assert_too_many(response: httpx.Response) -> int:
    """The 429's ``Retry-After``, in seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 429
    assert problem["title"] == "Too Many Requests"
    assert "rate limit of 0.5 messages a second with bursts of 3" in problem["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


@pytest.mark.parametrize("settings_overrides", [LIMITED], ids=["half-per-second-burst-3"])
async def test_over_the_limit_is_refused_with_retry_after_and_high_passes(
    stack: Stack, recipient: str
) -> None:
    for _ in range(3):
        assert (await submit(stack, recipient)).status_code == 202
    assert_too_many(await submit(stack, recipient))
    assert_too_many(await submit(stack, recipient, priority="low"))

    assert (await submit(stack, recipient, priority="high")).status_code == 202
    all_high = await submit_batch(stack, recipient, "high", "high", "high", "high")
    assert all_high.status_code == 202, all_high.text
    assert await stored_for(stack, recipient) == 3 + 1 + 4


@pytest.mark.parametrize("settings_overrides", [LIMITED], ids=["half-per-second-burst-3"])
async def test_a_batch_counts_its_messages_and_is_refused_whole(
    stack: Stack, recipient: str
) -> None:
    assert (await submit_batch(stack, recipient, "normal", "normal")).status_code == 202
    # a mixed batch counts only its messages that are not high: it spends the last token
    mixed = await submit_batch(stack, recipient, "high", "normal", "high")
    assert mixed.status_code == 202, mixed.text
    assert await stored_for(stack, recipient) == 5

    # a batch of two over the budget is refused whole: nothing of it is stored
    retry_after = assert_too_many(await submit_batch(stack, recipient, "normal", "low"))
    assert "this request counts 2" in (await submit_batch(stack, recipient, "low", "low")).text
    assert await stored_for(stack, recipient) == 5

    await asyncio.sleep(retry_after)
    accepted = await submit_batch(stack, recipient, "normal", "low")
    assert accepted.status_code == 202, accepted.text
    assert await stored_for(stack, recipient) == 7


@pytest.mark.parametrize("settings_overrides", [LIMITED], ids=["half-per-second-burst-3"])
async def test_each_api_key_has_its_own_bucket(stack: Stack, recipient: str) -> None:
    assert (await submit_batch(stack, recipient, "normal", "normal", "normal")).status_code == 202
    assert_too_many(await submit(stack, recipient))
    assert (await submit(stack, recipient, key=OTHER_KEY)).status_code == 202
