"""`make screenshots`: the console's overview and a message's page, as PNGs in ``docs/``.

Not part of the suite (pytest collects ``test_*.py`` only; the Makefile names this file). It
runs Herald as the tests do, with a scripted gateway that accepts most deliveries, fails some
for a while (503) and refuses a few (400), sends a minute of traffic from two tenants through
it while a browser signed in with an admin key watches the overview, then photographs the
overview and the page of a message that needed a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import Console
from tests.receiver import WebhookReceiver
from tests.servers import serving
from tests.stack import API_KEY, Stack, in_background

DOCS = Path(__file__).resolve().parent.parent / "docs"
TRAFFIC_SECONDS = 75
RECIPIENTS = ["+14155550123", "+14155550188", "+442071838750", "+33612345678", "+4930123456"]
TEXTS = ["Your code is {n}", "Your order {n} has shipped", "Reminder: appointment at 10:{n}"]


@contextlib.asynccontextmanager
async def gateway_acks(api: httpx.AsyncClient) -> AsyncIterator[None]:
    """Ack what the gateway accepted, a moment later, as a gateway does."""

    async def loop() -> None:
        while True:
            waiting = await api.get(
                "/v1/messages", params={"status": "awaiting_ack", "page_size": 500}
            )
            ids = [message["id"] for message in waiting.json()["items"]]
            if ids:
                await api.post("/v1/messages/ack", json={"message_ids": ids})
            await asyncio.sleep(0.4)

    async with in_background(loop()):
        yield


async def traffic(stack: Stack, tenants: list[str], seconds: float) -> list[dict[str, Any]]:
    """Submits in bursts, so a queue builds up and drains."""
    numbers = random.Random(7)
    submitted: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    for tick in itertools.count():
        if loop.time() >= end:
            break
        last = loop.time() + 1 >= end
        burst = 16 if last else 12 if tick % 8 == 0 else 3
        for _ in range(burst):
            body = {
                "recipient": numbers.choice(RECIPIENTS),
                "content": numbers.choice(TEXTS).format(n=numbers.randint(10, 99)),
                "priority": numbers.choice(["high", "normal", "normal", "normal", "low"]),
                "tenant_id": numbers.choice(tenants),
                "metadata": {"campaign": numbers.choice(["signup", "orders", "reminders"])},
            }
            response = await stack.api.post("/v1/messages", json=body)
            submitted.append(response.json())
        if last:
            break
        await asyncio.sleep(1)
    return submitted


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "max_concurrent_deliveries": 2,
            "max_retries": 3,
            "metrics_window_seconds": 120,
            "temporal_ui_url": "http://127.0.0.1:8233",
        }
    ],
)
async def test_screenshots(stack: Stack, console: Console) -> None:
    DOCS.mkdir(exist_ok=True)
    gateway = stack.gateway
    gateway.latency = 0.4
    pattern = [200] * 14 + [503, 503] + [400]
    gateway.script.extend((status, {}) for status in pattern * 40)
    tenants = ["acme", "globex"]
    for tenant in tenants:
        await stack.api.post("/v1/tenants", json={"id": tenant, "name": tenant.title()})
    receiver = WebhookReceiver()
    async with serving(receiver) as hooks:
        for tenant in tenants:
            await stack.api.post(
                "/v1/webhooks",
                json={"url": f"{hooks}/herald", "tenant_id": tenant, "description": "CRM sync"},
            )
        await console.page.set_viewport_size({"width": 1440, "height": 900})
        await console.sign_in(API_KEY)
        async with gateway_acks(stack.api):
            submitted = await traffic(stack, tenants, TRAFFIC_SECONDS)
            page = console.page
            # The next refresh, while the last burst is under way.
            updated = page.locator(".page-header .subtitle")
            await expect(updated).not_to_have_text(await updated.inner_text())
            await expect(page.locator("figure.chart").first).to_be_visible()
            await page.screenshot(path=DOCS / "console-overview.png")

            retried = [
                message
                for message in [await stack.message(m["id"]) for m in submitted[:120]]
                if message["retry_count"] and message["status"] == "delivered"
            ]
            shown = retried[0] if retried else submitted[0]
            await page.evaluate("id => { location.hash = `#/messages/${id}` }", shown["id"])
            await expect(page.get_by_role("region", name="Attempts")).to_be_visible()
            await page.wait_for_timeout(3500)  # its webhook event recorded, and redrawn
            await page.screenshot(path=DOCS / "console-message.png")
