"""An outcome webhook endpoint the tests script: it records every request and answers as
told, in the style of ``tests/gateway.py``."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from herald.core import webhooks

__all__ = ["Hook", "WebhookReceiver"]


@dataclass(frozen=True)
class Hook:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def webhook_id(self) -> str:
        return self.headers[webhooks.ID_HEADER]


@dataclass
class WebhookReceiver:
    """An ASGI app: answers the scripted statuses in turn, then ``default_status``. While
    ``hold`` is set to an unset event, every request hangs until it is set."""

    default_status: int = 204
    hold: asyncio.Event | None = None
    script: deque[int] = field(default_factory=deque)
    received: list[Hook] = field(default_factory=list)
    in_flight: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, status: int, *, times: int = 1) -> None:
        self.script.extend([status] * times)

    def at(self, path: str) -> list[Hook]:
        return [hook for hook in self.received if hook.path == path]

    async def wait_for(self, path: str, count: int, timeout: float = 30) -> list[Hook]:
        """The requests to ``path``, once at least ``count`` have arrived."""
        async with asyncio.timeout(timeout):
            while len(self.at(path)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.at(path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        self.received.append(Hook(request.url.path, dict(request.headers), body))
        self.arrived.set()
        self.in_flight += 1
        try:
            if self.hold is not None:
                await self.hold.wait()
        finally:
            self.in_flight -= 1
        status = self.script.popleft() if self.script else self.default_status
        await Response(f"scripted {status}", status)(scope, receive, send)
