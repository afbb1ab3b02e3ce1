"""The request gate: hostile requests are refused before their body costs anything.

FastAPI reads and parses a request's body before the route's dependencies run, so an API key
checked there, or a size checked after parsing, comes after the memory is spent. This pure
ASGI middleware sits in front of the app and refuses:

* a ``/v1`` request without a valid API key: 401, before any byte of its body is read;
* a body over ``HERALD_MAX_REQUEST_BYTES``: 413 at once when its ``Content-Length`` says so;
  a body without one (chunked) is counted as the app receives it and refused as soon as it
  passes the limit, never held whole.

Once it has answered, the app is told the client went away and anything it sends is dropped.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.auth import api_key_verifier
from herald.api.problems import problem_of
from herald.core.errors import PayloadTooLarge, ProblemError

__all__ = ["RequestGate"]

DISCONNECT: Message = {"type": "http.disconnect"}


class RequestGate:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, protected_prefix: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.protected_prefix = protected_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._serve_counting(scope, receive, send)

    async def _refusal(self, scope: Scope) -> Response | None:
        """The answer refusing the request from its headers alone, if they are enough."""
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if path == self.protected_prefix or path.startswith(self.protected_prefix + "/"):
            try:
                await api_key_verifier(scope["app"]).verify(headers.get("authorization"))
            except ProblemError as refused:
                return problem_of(refused, path)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return problem_of(self._too_large(), path)
        return None

    async def _serve_counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = answered = False

        async def receive_counting() -> Message:
            nonlocal received, answered
            if received > self.max_body_bytes:
                return DISCONNECT
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received <= self.max_body_bytes:
                return message
            if not started:  # the app has not begun an answer of its own: refuse in its place
                await problem_of(self._too_large(), scope["path"])(scope, receive, send)
                answered = True
            return DISCONNECT

        async def send_unless_answered(message: Message) -> None:
            nonlocal started
            if not answered:
                started = True
                await send(message)

        await self.app(scope, receive_counting, send_unless_answered)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the request body is over {self.max_body_bytes} bytes "
            "(HERALD_MAX_REQUEST_BYTES); send less, e.g. split the batch"
        )
