"""More than one of each: two ``herald api`` and two ``herald worker`` processes on one
database and one Temporal server, one of each killed (SIGKILL) mid-load. Every message still
ends ``delivered``, each strict line is delivered one message at a time in order, and a
tenant's rate limit is one budget across both APIs."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from herald.core.database import sessions
from herald.core.models import Message
from herald.core.settings import Settings
from tests.gateway import ScriptedGateway
from tests.processes import Running, herald_processes, wait_until_answering
from tests.stack import API_KEY, delivering_to, in_background
from tests.tenancy import new_tenant
from tests.test_ordering import unique_recipient

SCALE = {
    "provider_timeout_seconds": 2,  # a killed worker's attempts are retried 12 s later
    "outbox_interval_seconds": 1,
    "ack_timeout_seconds": 60,
    "max_retries": 10,
}
WAVES = 8
BEST_EFFORT_PER_WAVE = 10
LINES = 2
KILL_DURING_WAVE = 3


class Failover:
    """Calls whichever API answers, as a client behind a load balancer would: a call whose
    API dies is sent again to another (a submit with the same ``Idempotency-Key``)."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self._clients = clients
        self._next = 0

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        while True:
            client = self._clients[self._next % len(self._clients)]
            self._next += 1
            with contextlib.suppress(httpx.TransportError):
                return await client.post(path, **kwargs)
            await asyncio.sleep(0.05)

    async def submit(self, **fields: Any) -> dict[str, Any]:
        body = {"content": "scale out", **fields}
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        response = await self.post("/v1/messages", json=body, headers=headers)
        assert response.status_code == 202, response.text
        message: dict[str, Any] = response.json()
        return message


@asynccontextmanager
async def clients_of(apis: list[Running]) -> AsyncIterator[list[httpx.AsyncClient]]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=str(api.url), headers=headers, timeout=30)
            )
            for api in apis
        ]
        for client in clients:
            await wait_until_answering(client)
        yield clients


@asynccontextmanager
async def acking_everything(gateway: ScriptedGateway, apis: Failover) -> AsyncIterator[None]:
    """Ack every message the gateway received, through whichever API answers, until it
    takes the ack (an ack for a message still ``sending`` is answered 503 and tried again)."""
    acked: set[str] = set()

    async def ack(message_id: str) -> None:
        if (await apis.post(f"/v1/messages/{message_id}/ack")).status_code == 200:
            acked.add(message_id)

    async def loop() -> None:
        while True:
            received = {request.body["id"] for request in gateway.received}
            await asyncio.gather(*(ack(message_id) for message_id in received - acked))
            await asyncio.sleep(0.2)

    async with in_background(loop()):
        yield


async def wait_all_delivered(settings: Settings, ids: list[str], timeout: float) -> None:
    wanted = [uuid.UUID(message_id) for message_id in ids]
    statuses: collections.Counter[str] = collections.Counter()
    with contextlib.suppress(TimeoutError):
        async with (
            asyncio.timeout(timeout),
            sessions(settings.require_database_url()) as factory,
        ):
            while statuses != {"delivered": len(ids)}:
                await asyncio.sleep(0.5)
                async with factory() as session:
                    found = await session.exec(
                        select(col(Message.status)).where(col(Message.id).in_(wanted))
                    )
                    statuses = collections.Counter(str(status) for status in found.all())
    assert statuses == {"delivered": len(ids)}, statuses


async def one_budget_across_both(clients: list[httpx.AsyncClient]) -> None:
    """A tenant allowed 4 at once: 12 submits alternating between the APIs, 4 taken."""
    tenant = await new_tenant(
        clients[0], "messages:write", rate_limit_per_second=0.05, rate_limit_burst=4
    )
    answers = []
    for i in range(12):
        response = await clients[i % 2].post(
            "/v1/messages",
            json={"recipient": unique_recipient(), "content": "limited"},
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
        answers.append(response.status_code)
    assert sorted(answers) == [202] * 4 + [429] * 8, answers


def assert_in_line_order(gateway: ScriptedGateway, line: list[dict[str, Any]]) -> None:
    """Each message reached the gateway only after every attempt of the one before it."""
    line = sorted(line, key=lambda message: message["sequence_number"])
    arrivals = [[r.at for r in gateway.for_message(message["id"])] for message in line]
    for before, after in itertools.pairwise(arrivals):
        assert max(before) < min(after), arrivals


@pytest.mark.parametrize("settings_overrides", [SCALE])
async def test_killing_an_api_and_a_worker_mid_load_loses_nothing(settings: Settings) -> None:
    gateway = ScriptedGateway(secret=settings.require_provider_secret(), latency=0.1)
    async with delivering_to(gateway, settings) as settings:
        with (
            herald_processes("worker", settings, 2) as workers,
            herald_processes("api", settings, 2) as apis,
        ):
            async with clients_of(apis) as clients:
                await one_budget_across_both(clients)
                failover = Failover(clients)
                lines = [unique_recipient() for _ in range(LINES)]
                async with acking_everything(gateway, failover):
                    submitted, killed_at = await load_killing_one_of_each(
                        failover, lines, apis[0], workers[0]
                    )
                    await wait_all_delivered(
                        settings, [message["id"] for message in submitted], timeout=90
                    )

    assert workers[0].process.returncode is not None and apis[0].process.returncode is not None
    arrivals = [request.at for request in gateway.received]
    assert min(arrivals) < killed_at < max(arrivals), "the kill was not mid-load"
    assert len({message["id"] for message in submitted}) == WAVES * (BEST_EFFORT_PER_WAVE + LINES)
    for recipient in lines:
        line = [message for message in submitted if message["recipient"] == recipient]
        assert [m["sequence_number"] for m in line] == list(range(1, WAVES + 1))
        assert_in_line_order(gateway, line)


async def load_killing_one_of_each(
    failover: Failover, lines: list[str], api: Running, worker: Running
) -> tuple[list[dict[str, Any]], float]:
    """Waves of concurrent submits (best effort to new recipients, and one more message of
    each strict line), the API and the worker killed during one of them. The messages, in
    the order of the waves, and when the two were killed."""
    submitted: list[dict[str, Any]] = []
    killed_at = float("nan")
    for wave in range(WAVES):
        submits = [
            failover.submit(recipient=unique_recipient()) for _ in range(BEST_EFFORT_PER_WAVE)
        ] + [failover.submit(recipient=recipient, ordering="strict") for recipient in lines]
        killing = (
            asyncio.create_task(asyncio.to_thread(kill, api, worker))
            if wave == KILL_DURING_WAVE
            else None
        )
        submitted.extend(await asyncio.gather(*submits))
        if killing is not None:
            killed_at = await killing
    return submitted, killed_at


def kill(*processes: Running) -> float:
    """SIGKILL each; when they were killed (``time.monotonic``, as the gateway's times)."""
    killed_at = time.monotonic()
    for process in processes:
        process.kill()
    return killed_at
