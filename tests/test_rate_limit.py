"""Rate limits per tenant, shared by every API process: 429 with ``Retry-After`` over the
limit, ``high`` spending a budget of its own, batches counted per message and refused whole,
recovery after the wait, a bucket per tenant, and two ``herald api`` processes on one
database holding one budget."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from tests.processes import herald_processes, wait_until_answering
from tests.stack import Stack
from tests.tenancy import Tenant, as_key, new_tenant

# A message every 2 s (slow enough that the requests of a step fit in one token's refill
# even on a busy machine), bursts of 3; high: every 0.5 s, bursts of 4.
LIMITS: dict[str, Any] = {"rate_limit_per_second": 0.5, "rate_limit_burst": 3}
HIGH_LIMITS: dict[str, Any] = {"rate_limit_high_per_second": 2, "rate_limit_high_burst": 4}


@pytest.fixture
def recipient() -> str:
    """A number of the test's own, so listing by recipient counts only its messages."""
    return f"+491513{random.randrange(10**7):07d}"


async def limited_tenant(stack: Stack) -> Tenant:
    return await new_tenant(stack.api, "messages:write", "messages:read", **LIMITS)


async def submit(client: httpx.AsyncClient, recipient: str, priority: str = "normal") -> int:
    body = {"recipient": recipient, "content": "hello", "priority": priority}
    return (await client.post("/v1/messages", json=body)).status_code


async def submit_batch(
    client: httpx.AsyncClient, recipient: str, *priorities: str
) -> httpx.Response:
    messages = [
        {"recipient": recipient, "content": f"message {index}", "priority": priority}
        for index, priority in enumerate(priorities)
    ]
    return await client.post("/v1/messages/batch", json={"messages": messages})


async def stored_for(client: httpx.AsyncClient, recipient: str) -> int:
    page = await client.get("/v1/messages", params={"recipient": recipient, "page_size": 1})
    assert page.status_code == 200, page.text
    total: int = page.json()["total"]
    return total


def assert_too_many(response: httpx.Response, limit: str = "0.5 messages a second") -> int:
    """The 429's ``Retry-After``, in seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Too Many Requests"
    assert f"rate limit of {limit}" in problem["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


@pytest.mark.parametrize("settings_overrides", [HIGH_LIMITS])
async def test_over_the_limit_is_refused_and_high_has_a_budget_of_its_own(
    stack: Stack, recipient: str
) -> None:
    tenant = await limited_tenant(stack)
    async with as_key(stack.api, tenant.key) as client:
        assert [await submit(client, recipient) for _ in range(3)] == [202] * 3
        assert await submit(client, recipient) == 429
        refused = await client.post(
            "/v1/messages", json={"recipient": recipient, "content": "x", "priority": "low"}
        )
        assert_too_many(refused)
        assert tenant.id in refused.json()["detail"]

        # high skips the normal bucket, but spends its own: everything high is limited too
        assert (await submit_batch(client, recipient, *["high"] * 4)).status_code == 202
        assert_too_many(await submit_batch(client, recipient, "high"), "2 messages a second")
        assert await stored_for(client, recipient) == 3 + 4


@pytest.mark.parametrize("settings_overrides", [HIGH_LIMITS])
async def test_a_batch_counts_its_messages_and_is_refused_whole(
    stack: Stack, recipient: str
) -> None:
    tenant = await limited_tenant(stack)
    async with as_key(stack.api, tenant.key) as client:
        assert (await submit_batch(client, recipient, "normal", "normal")).status_code == 202
        mixed = await submit_batch(client, recipient, "high", "normal", "high")
        assert mixed.status_code == 202, mixed.text
        assert await stored_for(client, recipient) == 5

        # over the normal budget: refused whole, and its high messages' charge given back
        retry_after = assert_too_many(await submit_batch(client, recipient, "high", "normal"))
        assert "this request counts 1" in (await submit_batch(client, recipient, "low")).text
        assert await stored_for(client, recipient) == 5
        assert (await submit_batch(client, recipient, "high", "high")).status_code == 202

        await asyncio.sleep(retry_after)
        accepted = await submit_batch(client, recipient, "normal")
        assert accepted.status_code == 202, accepted.text
        assert await stored_for(client, recipient) == 8


async def test_each_tenant_has_its_own_budget(stack: Stack, recipient: str) -> None:
    busy = await limited_tenant(stack)
    other = await limited_tenant(stack)
    async with as_key(stack.api, busy.key) as as_busy, as_key(stack.api, other.key) as as_other:
        assert (await submit_batch(as_busy, recipient, *["normal"] * 3)).status_code == 202
        assert await submit(as_busy, recipient) == 429
        assert await submit(as_other, recipient) == 202


async def test_two_api_processes_share_one_budget(stack: Stack, recipient: str) -> None:
    tenant = await new_tenant(
        stack.api, "messages:write", rate_limit_per_second=0.05, rate_limit_burst=4
    )
    headers = {"Authorization": f"Bearer {tenant.key}"}
    with herald_processes("api", stack.settings, 2) as apis:
        async with (
            httpx.AsyncClient(base_url=str(apis[0].url), headers=headers) as first,
            httpx.AsyncClient(base_url=str(apis[1].url), headers=headers) as second,
        ):
            for client in (first, second):
                await wait_until_answering(client)
            answers = [await submit((first, second)[i % 2], recipient) for i in range(12)]
    assert answers.count(202) == 4, f"the two processes each spent a budget: {answers}"
    assert answers.count(429) == 8
