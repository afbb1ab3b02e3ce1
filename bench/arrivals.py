"""When each message first reached the provider: an ASGI middleware around the simulator that
notes the arrival time of every ``POST /deliver`` by the ``id`` in its body, then hands the
request on unchanged (the body it read is fed to the app again)."""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ArrivalRecorder"]


class ArrivalRecorder:
    """Wraps ``app``; :attr:`arrivals` maps a message id to the POSIX time its first delivery
    attempt arrived."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.arrivals: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/deliver":
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        body, last = await _read_body(receive)
        self._note(body, arrived)
        await self.app(scope, _replay(body, last, receive), send)

    def _note(self, body: bytes, arrived: float) -> None:
        try:
            message_id = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError):
            return  # the simulator answers 422; nothing to time
        if isinstance(message_id, str):
            self.arrivals.setdefault(message_id, arrived)


async def _read_body(receive: Receive) -> tuple[bytes, Message]:
    """The whole request body, and the last message read (a disconnect ends the body early)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), message


def _replay(body: bytes, last: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives the body back in one message, then whatever comes next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if last["type"] != "http.request":
        pending.append(last)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
