"""The request gate: hostile requests are refused before their body costs anything.

FastAPI reads and parses a request's body before the route's dependencies run, so an API key
checked there, or a size checked after parsing, comes after the memory is spent. This pure
ASGI middleware sits in front of the app and refuses:

* a ``/v1`` request without a valid API key: 401, before any byte of its body is read (the
  caller's :class:`~herald.operations.keys.Principal` is kept in the request's state for the
  routes); a route that takes a signed callback instead (the gateway's acks) lets a request
  with a ``webhook-signature`` and no key through, with a small body limit, for the route to
  verify the signature over the body;
* a body over ``HERALD_MAX_REQUEST_BYTES``: 413 at once when its ``Content-Length`` says so;
  a body without one (chunked) is counted as the app receives it and refused as soon as it
  passes the limit, never held whole.

Once it has answered, the app is told the client went away and anything it sends is dropped.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.auth import api_key_verifier
from herald.api.problems import problem_of
from herald.core import webhooks
from herald.core.errors import PayloadTooLarge, ProblemError

__all__ = ["RequestGate"]

DISCONNECT: Message = {"type": "http.disconnect"}


SIGNED_BODY_LIMIT = 256 * 1024
"""The largest body a signed callback may send before its signature is checked."""


class RequestGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        protected_prefix: str,
        signed_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.protected_prefix = protected_prefix
        self.signed_paths = signed_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.max_body_bytes
        try:
            if self._is_signed_callback(scope, headers):
                limit = min(limit, SIGNED_BODY_LIMIT)
            elif self._is_protected(scope["path"]):
                principal = await api_key_verifier(scope["app"]).verify(
                    headers.get("authorization")
                )
                scope.setdefault("state", {})["principal"] = principal
            self._check_declared_length(headers, limit)
        except ProblemError as refused:
            await problem_of(refused, scope["path"])(scope, receive, send)
            return
        await self._serve_counting(scope, receive, send, limit)

    def _is_protected(self, path: str) -> bool:
        return path == self.protected_prefix or path.startswith(self.protected_prefix + "/")

    def _is_signed_callback(self, scope: Scope, headers: Headers) -> bool:
        return (
            scope["path"] in self.signed_paths
            and "authorization" not in headers
            and webhooks.SIGNATURE_HEADER in headers
        )

    def _check_declared_length(self, headers: Headers, limit: int) -> None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(limit)

    async def _serve_counting(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = answered = False

        async def receive_counting() -> Message:
            nonlocal received, answered
            if received > limit:
                return DISCONNECT
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received <= limit:
                return message
            if not started:  # the app has not begun an answer of its own: refuse in its place
                await problem_of(self._too_large(limit), scope["path"])(scope, receive, send)
                answered = True
            return DISCONNECT

        async def send_unless_answered(message: Message) -> None:
            nonlocal started
            if not answered:
                started = True
                await send(message)

        await self.app(scope, receive_counting, send_unless_answered)

    def _too_large(self, limit: int) -> PayloadTooLarge:
        source = "HERALD_MAX_REQUEST_BYTES" if limit == self.max_body_bytes else "signed callbacks"
        return PayloadTooLarge(
            f"the request body is over {limit} bytes ({source}); send less, e.g. split the batch"
        )
