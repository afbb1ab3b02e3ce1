"""With no Temporal to talk to, a submit is still committed and answered (pending), and
nothing stalls waiting for it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from herald.core.settings import Settings
from herald.devstack.ports import free_port
from tests.stack import serving_api


@pytest.fixture
async def api_without_temporal(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with serving_api(nowhere) as api:
        yield api


async def test_submits_are_stored_pending_when_temporal_is_unreachable(
    api_without_temporal: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await api_without_temporal.post(
        "/v1/messages", json={"recipient": "+14155550123", "content": "stored anyway"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert time.monotonic() - started < 10, "a down Temporal must not stall the API"

    message_id = response.json()["id"]
    stored = await api_without_temporal.get(f"/v1/messages/{message_id}")
    assert stored.json()["status"] == "pending"

    batch = await api_without_temporal.post(
        "/v1/messages/batch",
        json={"messages": [{"recipient": "+14155550123", "content": "also stored"}]},
    )
    assert batch.status_code == 202, batch.text
    assert batch.json()["results"][0]["status"] == "pending"
