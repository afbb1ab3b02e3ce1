"""Server-side request forgery: a tenant's webhook URL may not make Herald call the loopback,
a private network or a cloud metadata service, neither at registration nor at send time
(``HERALD_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`` off, as in production)."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from herald.core.egress import WebhookTarget, refusal
from herald.core.settings import Settings
from herald.devstack.dev import _generated_credentials
from tests.receiver import WebhookReceiver
from tests.servers import serving
from tests.stack import Stack, all_delivered, serving_api
from tests.tenancy import as_key, new_tenant

PRODUCTION = [{"webhooks_allow_private_networks": False}]

REFUSED_ADDRESSES = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",
    "0.0.0.0": "unspecified",
    "100.64.0.1": "shared",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd00:ec2::254": "private",  # a cloud's IPv6 metadata service
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "2002:a00:1::": "private",  # 6to4 carrying 10.0.0.1
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 carrying 169.254.169.254
    "::7f00:1": "IPv4-compatible",
    "2001:db8::1": "private",  # documentation
}


@pytest.mark.parametrize(("address", "reason"), REFUSED_ADDRESSES.items())
def test_non_public_addresses_are_refused_and_say_why(address: str, reason: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None and reason in found, found


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_send_connects_to_the_checked_address_under_the_urls_host_name() -> None:
    target = WebhookTarget("https://Hooks.Example.com:8443/in?x=1")
    assert target.url_for(ipaddress.ip_address("93.184.215.14")) == (
        "https://93.184.215.14:8443/in?x=1"
    )
    assert target.url_for(ipaddress.ip_address("2606:4700::1")) == (
        "https://[2606:4700::1]:8443/in?x=1"
    )
    assert target.host == "hooks.example.com"  # the TLS server name and certificate check
    assert target.host_header == "hooks.example.com:8443"
    assert WebhookTarget("http://[2606:4700::1]/").host_header == "[2606:4700::1]"


@pytest.mark.parametrize("settings_overrides", PRODUCTION)
async def test_registering_a_non_public_url_is_refused(settings: Settings) -> None:
    async with serving_api(settings) as admin:
        tenant = await new_tenant(admin, "webhooks:write")
        async with as_key(admin, tenant.key) as client:
            refused: dict[str, Any] = {}
            for url in (
                "http://127.0.0.1/hook",
                "http://10.0.0.1/hook",
                "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/hook",
                "http://[::ffff:7f00:1]:8080/hook",
                "http://localhost:9000/hook",
            ):
                response = await client.post("/v1/webhooks", json={"url": url})
                assert response.status_code == 422, (url, response.text)
                [error] = response.json()["errors"]
                assert error["field"] == "url"
                refused[url] = error["message"]
            public = await client.post("/v1/webhooks", json={"url": "https://93.184.215.14/in"})
            assert public.status_code == 201, public.text
            listed = (await client.get("/v1/webhooks")).json()
    assert [endpoint["url"] for endpoint in listed] == ["https://93.184.215.14/in"]
    assert "127.0.0.1 is a loopback address" in refused["http://127.0.0.1/hook"]
    assert "link-local" in refused["http://169.254.169.254/latest/meta-data/"]
    assert "private" in refused["http://10.0.0.1/hook"]
    assert "loopback" in refused["http://[::1]/hook"]
    assert "localhost resolves to" in refused["http://localhost:9000/hook"]
    assert "loopback" in refused["http://localhost:9000/hook"]


@pytest.mark.parametrize("settings_overrides", PRODUCTION)
async def test_a_name_that_resolves_to_a_private_address_is_not_called(stack: Stack) -> None:
    """Registered while it pointed elsewhere (here: while private networks were allowed),
    the name is checked again when the event is sent, and the endpoint is never called."""
    receiver = WebhookReceiver()
    tenant = await new_tenant(stack.api, "messages:write", "webhooks:write")
    lenient = stack.settings.model_copy(update={"webhooks_allow_private_networks": True})
    async with serving(receiver) as url, serving_api(lenient) as admin:
        port = url.rsplit(":", 1)[1]
        async with as_key(admin, tenant.key) as client:
            created = await client.post(
                "/v1/webhooks", json={"url": f"http://localhost:{port}/hook"}
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            submitted = await client.post(
                "/v1/messages", json={"recipient": "+14155550123", "content": "hi"}
            )
            message = submitted.json()
        await all_delivered(stack, [message["id"]])
        async with asyncio.timeout(30):
            while True:
                shown = (await stack.api.get(f"/v1/webhooks/{endpoint['id']}")).json()
                if shown["failing_sends"]:
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(1)
    [send] = shown["failing_sends"]
    assert receiver.received == []
    assert send["state"] == "failed"
    assert send["attempts"] == 1
    assert send["last_status"] is None
    assert send["last_error"].startswith("not sent: localhost resolves to")
    assert "loopback" in send["last_error"]


def test_herald_dev_allows_private_networks_unless_told_otherwise(tmp_path: Path) -> None:
    """A laptop's endpoints are on the loopback: ``herald dev`` allows them when the setting
    is left unset, and keeps an explicit choice."""
    unset = Settings(_env_file=None, data_dir=tmp_path)
    assert _generated_credentials(unset)["webhooks_allow_private_networks"] is True
    chosen = Settings(_env_file=None, data_dir=tmp_path, webhooks_allow_private_networks=False)
    assert "webhooks_allow_private_networks" not in _generated_credentials(chosen)
