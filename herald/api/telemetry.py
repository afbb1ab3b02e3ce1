"""Every HTTP request observed once (pure ASGI, outermost, so refusals count too): counted and
timed by route template for ``GET /metrics``, and, when tracing is on, a server span that
continues the caller's ``traceparent`` and is the parent of the Temporal calls the request
makes."""

from __future__ import annotations

import time

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.prometheus import UNMATCHED_ROUTE, ApiMetrics

__all__ = ["ObservedRequests"]


class ObservedRequests:
    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, tracer: Tracer) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        status = 500  # unless a response starts: an unhandled error
        started = time.perf_counter()

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(Headers(scope=scope)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                route = route_template(scope)
                self.metrics.observe(route, method, status, time.perf_counter() - started)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/messages/{message_id}``).

    FastAPI's ``route.path`` leaves out the prefixes of the routers the route is included
    through, so they are taken from the request path: all of it but the template's own
    segments (each path parameter matches one segment; Herald has no ``:path`` ones).
    """
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    template: str = route.path
    path: str = scope["path"]
    prefix = path.rsplit("/", template.count("/"))[0]
    return prefix + template
