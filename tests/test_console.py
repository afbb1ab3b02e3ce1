"""The operator console in a real browser (DESIGN §13): headless Chromium, driven by
Playwright, against a running Herald (worker, API, scripted gateway) on real PostgreSQL and
Temporal. Controls are found by their accessible names, as a person or a screen reader finds
them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Request, expect

from tests.browser import Console
from tests.receiver import WebhookReceiver
from tests.servers import serving
from tests.stack import API_KEY, Stack, acking
from tests.tenancy import Tenant, as_key, new_tenant
from tests.test_ordering import unique_recipient

TEMPORAL_UI = "http://temporal-ui.example:8233"


async def dead_letter(stack: Stack, **fields: Any) -> dict[str, Any]:
    """A message the gateway refuses for good (400): dead-lettered at once."""
    stack.gateway.answer(400)
    message = await stack.submit(**fields)
    return await stack.wait_for_status(message["id"], "dead_lettered")


def status_badge(console: Console) -> Any:
    return console.heading.locator(".badge")


async def test_an_operator_requeues_dead_letters_and_sees_one_delivered(
    stack: Stack, console: Console
) -> None:
    tenant = await new_tenant(stack.api, "messages:read", "dead_letters:write")
    first, second, third = [await dead_letter(stack, tenant_id=tenant.id) for _ in range(3)]

    await console.sign_in(tenant.key)
    await console.go("Dead letters")
    page = console.page
    # Discarding one asks first.
    await page.get_by_role("checkbox", name=f"Select message {third['id']}").check()
    await page.get_by_role("button", name="Discard", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name="Yes, discard").click()
    discarded = page.get_by_role("region", name="Discard results")
    await expect(discarded.locator("[data-outcome=discarded]")).to_have_count(1)
    assert (await stack.message(third["id"]))["status"] == "discarded"
    await expect(page.get_by_role("checkbox", name=f"Select message {third['id']}")).to_have_count(
        0
    )

    for message in (first, second):
        await page.get_by_role("checkbox", name=f"Select message {message['id']}").check()
    await expect(page.get_by_text("2 selected")).to_be_visible()
    await page.get_by_role("button", name="Requeue", exact=True).click()
    requeued = page.get_by_role("region", name="Requeue results")
    await expect(requeued.get_by_role("heading")).to_have_text("Requeue: 2 requeued")
    await expect(requeued.locator("[data-outcome=requeued]")).to_have_count(2)
    await expect(page.get_by_role("checkbox", name=f"Select message {first['id']}")).to_have_count(
        0
    )

    # Requeued, the message is sent again; once the gateway acks it, its page (which
    # refreshes by itself) says delivered, after its refused attempt and its accepted one.
    async with acking(stack, [first["id"]]):
        await requeued.get_by_role("link", name=first["id"].split("-")[0]).click()
        await expect(status_badge(console)).to_have_text("delivered", timeout=40_000)
    timeline = page.get_by_role("region", name="Attempts").get_by_role("listitem")
    await expect(timeline).to_have_count(2)
    await expect(timeline.nth(0)).to_contain_text("failed")
    await expect(timeline.nth(0)).to_contain_text("HTTP 400")
    await expect(timeline.nth(1)).to_contain_text("accepted")


async def test_the_key_stays_in_memory_and_sign_out_forgets_it(
    stack: Stack, console: Console
) -> None:
    page = console.page
    await console.open()
    await page.get_by_label("API key").fill("hk_not-a-key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not one of Herald's keys")

    await console.sign_in(API_KEY)
    await console.go("Messages")
    assert API_KEY not in await console.everything_stored()
    assert await page.get_by_label("API key").input_value() == ""
    assert API_KEY not in await page.content()

    sent_after: list[Request] = []
    await page.get_by_role("button", name="Sign out").click()
    page.on("request", lambda request: sent_after.append(request))
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("navigation", name="Console")).to_be_hidden()
    assert await page.locator("#view").inner_text() == ""
    assert API_KEY not in await console.everything_stored()
    # Nothing asks the API any more (the overview refreshes every 5 s while signed in), and
    # going back to a view asks for the key again.
    await page.wait_for_timeout(6000)
    await page.go_back()
    await page.evaluate("() => { location.hash = '#/dead-letters' }")
    await expect(page.get_by_label("API key")).to_be_visible()
    assert [request.url for request in sent_after if "/v1/" in request.url] == []
    # A reload forgets the key as well: the page asks for it again.
    await console.sign_in(API_KEY)
    await page.reload()
    await expect(page.get_by_label("API key")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_be_hidden()


async def test_a_key_sees_and_does_only_what_its_scopes_allow(
    stack: Stack, console: Console
) -> None:
    reader = await new_tenant(stack.api, "messages:read")
    message = await dead_letter(stack, tenant_id=reader.id)
    other = await new_tenant(stack.api, "messages:read")
    theirs = await dead_letter(stack, tenant_id=other.id)

    await console.sign_in(reader.key)
    assert await console.nav_links() == ["Overview", "Messages", "Dead letters"]
    await console.go("Dead letters")
    page = console.page
    await expect(page.get_by_role("link", name=message["id"].split("-")[0])).to_be_visible()
    await expect(page.get_by_role("link", name=theirs["id"].split("-")[0])).to_have_count(0)
    await expect(page.get_by_role("checkbox")).to_have_count(0)
    for action in ("Requeue", "Discard"):
        await expect(page.get_by_role("button", name=action)).to_have_count(0)
    await page.get_by_role("link", name=message["id"].split("-")[0]).click()
    await expect(status_badge(console)).to_have_text("dead lettered")
    for action in ("Requeue", "Discard", "Cancel"):
        await expect(page.get_by_role("button", name=action)).to_have_count(0)
    await expect(page.get_by_role("link", name="Open in Temporal")).to_have_count(0)

    # The API refuses it anyway.
    async with as_key(stack.api, reader.key) as client:
        refused = await client.post(
            "/v1/dead-letters/requeue", json={"message_ids": [message["id"]]}
        )
    assert refused.status_code == 403
    assert "`dead_letters:write`" in refused.json()["detail"]
    assert (await stack.message(message["id"]))["status"] == "dead_lettered"


async def test_the_overview_refreshes_by_itself(stack: Stack, console: Console) -> None:
    tenant = await new_tenant(stack.api, "messages:read", "messages:write")
    await console.sign_in(tenant.key)
    await expect(console.heading).to_have_text("Overview")
    page = console.page
    throughput = page.locator("[data-metric=messages_per_second]")
    await expect(throughput).to_contain_text("0 delivered")
    await expect(page.locator("[data-metric=queue_depth] .tile-value")).to_have_text("0")
    for name in ("Processing time", "Retry rate", "Failure rate"):
        await expect(page.locator(".tiles")).to_contain_text(name)

    async with as_key(stack.api, tenant.key) as client:
        submitted = await client.post(
            "/v1/messages", json={"recipient": "+14155550123", "content": "hi"}
        )
    message_id = submitted.json()["id"]
    async with acking(stack, [message_id]):
        await stack.wait_for_status(message_id, "delivered")
    await expect(throughput).to_contain_text("1 delivered", timeout=12_000)
    charts = page.locator("figure.chart")
    await expect(charts).to_have_count(4)
    samples = int(await charts.first.get_attribute("data-samples") or 0)
    assert samples >= 2  # at least two refreshes drawn, without a reload
    await expect(page.locator(".chart .series-0 .line").first).to_be_visible()


@pytest.mark.parametrize("settings_overrides", [{"temporal_ui_url": TEMPORAL_UI}])
async def test_find_a_message_and_read_its_attempts_events_and_workflow(
    stack: Stack, console: Console
) -> None:
    receiver = WebhookReceiver()
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write")
    recipient = unique_recipient()  # +4930 and eight digits
    typed = f"{recipient[:3]} {recipient[3:5]} {recipient[5:9]}-{recipient[9:]}"
    markup = '<img src=x onerror="window.pwned = true">'
    async with serving(receiver) as url, as_key(stack.api, tenant.key) as client:
        created = await client.post("/v1/webhooks", json={"url": f"{url}/hooks"})
        assert created.status_code == 201, created.text
        stack.gateway.answer(503)
        submitted = await client.post(
            "/v1/messages", json={"recipient": recipient, "content": markup}
        )
        message = submitted.json()
        async with acking(stack, [message["id"]]):
            await stack.wait_for_status(message["id"], "delivered")
        await receiver.wait_for("/hooks", 1)

    await console.sign_in(API_KEY)
    await console.go("Messages")
    page = console.page
    await page.get_by_label("Recipient", exact=True).fill(typed)
    await page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("table", name="Messages").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(recipient)
    await rows.get_by_role("link").click()

    await expect(status_badge(console)).to_have_text("delivered")
    await expect(page.locator(".page-header")).to_contain_text(message["id"])
    details = page.get_by_role("region", name="Details")
    await expect(details).to_contain_text(tenant.id)
    await expect(details).to_contain_text(recipient)
    attempts = page.get_by_role("region", name="Attempts").get_by_role("listitem")
    await expect(attempts).to_have_count(2)
    await expect(attempts.nth(0)).to_contain_text("HTTP 503")
    await expect(attempts.nth(1)).to_contain_text("accepted")
    events = page.get_by_role("table", name="Webhook events").locator("tbody tr")
    await expect(events).to_have_count(1)
    await expect(events.locator("[data-status=delivered]")).to_have_count(1)
    await expect(events).to_contain_text(f"{url}/hooks")
    workflow = page.get_by_role("link", name="Open in Temporal")
    expected = f"{TEMPORAL_UI}/namespaces/default/workflows/message-{message['id']}"
    assert await workflow.get_attribute("href") == expected
    # Content is shown as the text it is, never as markup.
    await expect(page.get_by_role("region", name="Content")).to_contain_text(markup)
    assert await page.evaluate("() => window.pwned") is None

    # A message the provider does not have yet can be canceled from its page.
    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = await stack.submit(send_at=send_at)
    await console.go("Messages")
    await page.get_by_label("Message id", exact=True).fill(scheduled["id"])
    await page.get_by_role("button", name="Search").click()
    await expect(status_badge(console)).to_have_text("scheduled")
    await page.get_by_role("button", name="Cancel").click()
    await expect(status_badge(console)).to_have_text("canceled")
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert (await stack.message(scheduled["id"]))["status"] == "canceled"


@pytest.mark.parametrize("settings_overrides", [{"webhook_max_attempts": 1}])
async def test_an_admin_manages_tenants_suppressions_webhooks_and_keys(
    stack: Stack, console: Console
) -> None:
    acme: Tenant = await new_tenant(stack.api, "messages:read")
    receiver = WebhookReceiver(default_status=500)
    async with serving(receiver) as url:
        hook = await stack.api.post(
            "/v1/webhooks", json={"url": f"{url}/down", "tenant_id": acme.id}
        )
        assert hook.status_code == 201, hook.text
        ours = await stack.api.post(
            "/v1/messages",
            json={"recipient": "+14155550123", "content": "hi", "tenant_id": acme.id},
        )
        async with acking(stack, [ours.json()["id"]]):
            await stack.wait_for_status(ours.json()["id"], "delivered")
        await receiver.wait_for("/down", 1)
    await console.sign_in(API_KEY)
    page = console.page
    assert await console.nav_links() == [
        "Overview",
        "Messages",
        "Dead letters",
        "Circuit breakers",
        "Suppressions",
        "Webhooks",
        "API keys",
    ]

    # The tenant picker narrows every view to one tenant.
    await page.get_by_label("Tenant", exact=True).select_option(acme.id)
    await console.go("Messages")
    rows = page.get_by_role("table", name="Messages").locator("tbody tr")
    await expect(rows).to_have_count(1)

    await console.go("Circuit breakers")
    await expect(page.get_by_role("table", name="Circuit breakers")).to_contain_text("http")

    await console.go("Suppressions")
    recipient = unique_recipient()
    await page.get_by_label("Recipient", exact=True).fill(recipient)
    await page.get_by_label("Reason", exact=True).fill("replied STOP")
    await page.get_by_role("button", name="Suppress").click()
    listed = page.get_by_role("table", name="Suppressions")
    await expect(listed).to_contain_text(recipient)
    await expect(listed).to_contain_text("replied STOP")
    await page.get_by_role("button", name=f"Remove {recipient}").click()
    await expect(page.get_by_role("status")).to_contain_text("may be messaged again")
    await expect(page.locator("table", has_text=recipient)).to_have_count(0)

    await console.go("Webhooks")
    await page.get_by_role("link", name=f"{url}/down").click()
    failing = page.get_by_role("table", name="Failing sends").locator("tbody tr")
    await expect(failing).to_have_count(1)
    await expect(failing).to_contain_text("failed")
    await expect(failing).to_contain_text("HTTP 500")
    await page.get_by_role("button", name="Delete endpoint").click()
    await page.get_by_role("dialog").get_by_role("button", name="Yes, delete").click()
    await expect(console.heading).to_have_text("Webhooks")
    assert (await stack.api.get(f"/v1/webhooks/{hook.json()['id']}")).status_code == 404

    await console.go("API keys")
    await page.get_by_label("Name", exact=True).fill("console-made")
    await page.get_by_role("checkbox", name="messages:read").check()
    await page.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("New API key")
    await expect(shown).to_contain_text("hk_")
    key = await shown.inner_text()
    async with as_key(stack.api, key) as client:
        me = await client.get("/v1/me")
    assert me.status_code == 200
    assert me.json()["tenant_id"] == acme.id and me.json()["scopes"] == ["messages:read"]
    keys = page.get_by_role("table", name="API keys")
    await expect(keys).to_contain_text("console-made")
    assert key not in await keys.inner_text()  # listings show the prefix only
    await page.get_by_role("button", name="Revoke console-made").click()
    await page.get_by_role("dialog").get_by_role("button", name="Yes, revoke").click()
    await expect(keys.locator("tr", has_text="console-made")).to_contain_text("revoked")
    assert key not in await console.everything_stored()
