"""A provider gateway the tests script: it records every request and answers as told."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from herald.core import webhooks

__all__ = ["ScriptedGateway"]


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    signature_error: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class ScriptedGateway:
    """An ASGI app: answers the scripted statuses in turn, then ``default_status``."""

    secret: str
    default_status: int = 200
    default_headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    """Seconds each request takes, to build a backlog behind a concurrency cap."""
    in_flight: int = 0
    most_in_flight: int = 0
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        self.script.extend([(status, headers or {})] * times)

    def for_message(self, message_id: str) -> list[Received]:
        return [r for r in self.received if r.body["id"] == message_id]

    async def wait_for(self, message_id: str, count: int, timeout: float = 20) -> list[Received]:
        """The requests for a message, once at least ``count`` have arrived."""
        async with asyncio.timeout(timeout):
            while len(self.for_message(message_id)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.for_message(message_id)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        try:
            webhooks.verify(self.secret, request.headers, body)
            signature_error = None
        except webhooks.InvalidSignature as err:
            signature_error = str(err)
        self.received.append(Received(json.loads(body), dict(request.headers), signature_error))
        self.arrived.set()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        status, headers = (
            self.script.popleft() if self.script else (self.default_status, self.default_headers)
        )
        response: Response
        if 200 <= status < 300:
            response = JSONResponse({"provider_message_id": f"gw-{len(self.received)}"}, status)
        else:
            response = Response(f"scripted {status}", status, headers=headers)
        await response(scope, receive, send)
