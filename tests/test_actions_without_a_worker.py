"""An action on a dead letter whose workflow no worker runs answers 503, not 500.

Found by Schemathesis in the whole suite: it requeued dead letters that earlier tests had left
behind, whose workers were gone, and the update's timeout escaped as a server error."""

from __future__ import annotations

import asyncio
import random

import httpx

from herald.core.settings import Settings
from tests.gateway import ScriptedGateway
from tests.stack import delivering_to, reset_circuit_breakers, running_worker, serving_api


async def status_of(api: httpx.AsyncClient, message_id: str) -> str:
    status: str = (await api.get(f"/v1/messages/{message_id}")).json()["status"]
    return status


async def test_a_requeue_no_worker_takes_answers_503(settings: Settings) -> None:
    await reset_circuit_breakers(settings)
    gateway = ScriptedGateway(secret=settings.require_provider_secret())
    gateway.answer(400)  # refused for good: dead-lettered at once
    async with delivering_to(gateway, settings) as settings:
        recipient = f"+491516{random.randrange(10**7):07d}"
        async with running_worker(settings), serving_api(settings) as api:
            submitted = await api.post(
                "/v1/messages", json={"recipient": recipient, "content": "hi"}
            )
            assert submitted.status_code == 202, submitted.text
            message_id = submitted.json()["id"]
            async with asyncio.timeout(30):
                while await status_of(api, message_id) != "dead_lettered":
                    await asyncio.sleep(0.1)
    async with serving_api(settings) as api:  # the worker has stopped
        # Discard goes the same way (one update, 10 s bound): one of the two is enough.
        response = await api.post(f"/v1/dead-letters/{message_id}/requeue")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert "Temporal did not answer" in response.json()["detail"]
