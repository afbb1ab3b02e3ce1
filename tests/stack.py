"""Fixtures that run Herald for real: the worker and the API on the session's servers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import col, delete, select

from herald.api.app import create_app
from herald.core import webhooks
from herald.core.contract import TERMINAL_STATUSES, MessageStatus
from herald.core.database import sessions
from herald.core.models import CircuitBreaker, IdempotencyKey, Message, RateBucket
from herald.core.settings import Settings
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer
from herald.worker import run_worker
from tests.gateway import ScriptedGateway
from tests.servers import serving

API_KEY = "test-key"


@dataclass
class Stack:
    """A running Herald: ``api`` is an authenticated client of its REST API."""

    api: httpx.AsyncClient
    settings: Settings
    gateway: ScriptedGateway

    async def submit(self, **fields: Any) -> dict[str, Any]:
        body = {"recipient": "+14155550123", "content": "hello", **fields}
        response = await self.api.post("/v1/messages", json=body)
        assert response.status_code == 202, response.text
        message: dict[str, Any] = response.json()
        return message

    async def message(self, message_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/v1/messages/{message_id}")
        assert response.status_code == 200, response.text
        message: dict[str, Any] = response.json()
        return message

    async def wait_for_status(
        self, message_id: str, status: str, timeout: float = 30
    ) -> dict[str, Any]:
        """Poll until the message has ``status``; fail early if it ends in another one."""
        message: dict[str, Any] = {}
        async with asyncio.timeout(timeout):
            while True:
                message = await self.message(message_id)
                if message["status"] == status:
                    return message
                assert message["status"] not in TERMINAL_STATUSES - {status}, message
                await asyncio.sleep(0.1)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings one test changes; a test overrides this fixture by direct parametrization:
    ``@pytest.mark.parametrize("settings_overrides", [{"max_retries": 0}])``."""
    return {}


@pytest.fixture
async def settings(
    postgres_server: EmbeddedPostgres,
    temporal_server: TemporalDevServer,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Settings]:
    """Short durations (timers on the dev server have about one-second granularity) and a
    fresh task queue, so tests do not see each other's workflows. Messages a test leaves
    ``pending`` are removed afterwards, or the next test's outbox relay would start them."""
    defaults: dict[str, Any] = {
        "database_url": postgres_server.url,
        "temporal_address": temporal_server.address,
        "task_queue": f"test-{uuid.uuid4()}",
        "api_keys": [API_KEY],
        "provider_secret": webhooks.generate_secret(),
        "provider_timeout_seconds": 5,
        "max_retries": 2,
        "base_retry_delay_seconds": 1,
        "max_retry_delay_seconds": 2,
        "ack_timeout_seconds": 2,
        "workflow_sandbox": True,  # a non-deterministic call in a workflow fails its test
        "worker_metrics_port": None,  # several workers run in this process: no port each
        # Receivers are on the loopback; the SSRF tests turn this off.
        "webhooks_allow_private_networks": True,
    }
    settings = Settings(_env_file=None, **(defaults | settings_overrides))
    await reset_rate_limits(settings)
    yield settings
    await remove_pending_messages(settings)


async def reset_rate_limits(settings: Settings) -> None:
    """Buckets live in the database: one test's debt (a full batch) must not refuse the next
    test's submits."""
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        await session.exec(delete(RateBucket))
        await session.commit()


async def remove_pending_messages(settings: Settings) -> None:
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        pending = select(Message.id).where(col(Message.status) == MessageStatus.PENDING)
        await session.exec(
            delete(IdempotencyKey).where(col(IdempotencyKey.message_id).in_(pending))
        )
        await session.exec(delete(Message).where(col(Message.id).in_(pending)))
        await session.commit()


def running_worker(settings: Settings) -> contextlib.AbstractAsyncContextManager[None]:
    return in_background(run_worker(settings))


@asynccontextmanager
async def serving_api(
    settings: Settings, api_key: str | None = API_KEY
) -> AsyncIterator[httpx.AsyncClient]:
    """The API alone (no worker); yields a client of it, with ``api_key`` as its bearer."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with (
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api,
    ):
        yield api


@asynccontextmanager
async def running_herald(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The worker and the API; yields an authenticated client of the API."""
    async with running_worker(settings), serving_api(settings) as api:
        yield api


async def reset_circuit_breakers(settings: Settings) -> None:
    """Every test delivers to a provider named ``http``: one test's failures must not leave
    the shared breaker open for the next."""
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        await session.exec(delete(CircuitBreaker))
        await session.commit()


@asynccontextmanager
async def acking(stack: Stack, ids: Iterable[str]) -> AsyncIterator[None]:
    """Ack each message once it awaits its ack, as a gateway would, for the block."""
    waiting = set(ids)

    async def ack_loop() -> None:
        while True:
            for message_id in list(waiting):
                with contextlib.suppress(httpx.HTTPError):
                    response = await stack.api.get(f"/v1/messages/{message_id}")
                    if response.status_code == 200 and response.json()["status"] == "awaiting_ack":
                        await stack.api.post(f"/v1/messages/{message_id}/ack")
                        waiting.discard(message_id)
            await asyncio.sleep(0.2)

    async with in_background(ack_loop()):
        yield


@asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``work`` for the block, then cancel it."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def all_delivered(stack: Stack, ids: Iterable[str], timeout: float = 60) -> None:
    async with acking(stack, ids):
        for message_id in ids:
            await stack.wait_for_status(message_id, "delivered", timeout=timeout)


@asynccontextmanager
async def delivering_to(gateway: ScriptedGateway, settings: Settings) -> AsyncIterator[Settings]:
    """The gateway on a real port for the block; yields the settings that deliver to it."""
    async with serving(gateway) as gateway_url:
        yield settings.model_copy(update={"provider_url": f"{gateway_url}/deliver"})


@asynccontextmanager
async def herald_on(settings: Settings) -> AsyncIterator[Stack]:
    """The worker and the API delivering to a scripted gateway."""
    gateway = ScriptedGateway(secret=settings.require_provider_secret())
    async with delivering_to(gateway, settings) as settings, running_herald(settings) as api:
        yield Stack(api, settings, gateway)


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    """Herald delivering to a scripted gateway, its provider's circuit breaker fresh."""
    await reset_circuit_breakers(settings)
    async with herald_on(settings) as running:
        yield running
