"""``ShardedClient``: requests spread over small pools, within the connection cap, reused."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from herald.core.http_pool import SHARD_CONNECTIONS, ShardedClient
from tests.servers import serving


class SlowGateway:
    """Answers every POST after ``delay``; counts requests in flight and the connections
    (client ports) they came on."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.connections: set[int] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.connections.add(scope["client"][1])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await receive()
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def test_requests_stay_within_the_cap_and_reuse_their_connections() -> None:
    gateway = SlowGateway(delay=0.2)
    cap = 3 * SHARD_CONNECTIONS
    async with serving(gateway) as url, ShardedClient(cap) as client:

        async def post() -> int:
            response = await client.post(url, content=b"x", headers={}, timeout=5)
            return response.status_code

        assert await asyncio.gather(*(post() for _ in range(4 * cap))) == [200] * (4 * cap)
        assert gateway.most_in_flight == cap
        assert len(gateway.connections) == cap  # every pool filled, no connection opened twice
        assert await asyncio.gather(*(post() for _ in range(cap))) == [200] * cap
        assert len(gateway.connections) == cap  # kept alive and reused


async def test_a_slow_answer_times_out() -> None:
    async with serving(SlowGateway(delay=1.0)) as url, ShardedClient(1) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.post(url, content=b"x", headers={}, timeout=0.1)
