"""The provider gateway simulator of DESIGN §6: a real HTTP gateway for development and load.

``POST /deliver`` takes Herald's provider call (Standard Webhooks signed), waits
``simulator_latency_seconds``, then answers 503 (a simulated transient failure), 400 (a
permanent one) or 200 with a ``provider_message_id``. It de-duplicates on the signed
``webhook-id`` (the same on every attempt of a message), not on the unsigned
``Idempotency-Key`` header, which anyone on the path could change. An accepted message is
acknowledged ``simulator_ack_delay_seconds`` later through Herald's ``POST /v1/messages/ack``,
from a background task, as a callback signed with ``HERALD_GATEWAY_SECRET``. ``GET /stats``
counts what happened (for the load benchmark) and ``GET /health`` answers while the process is up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.context import Context
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from herald.core import webhooks
from herald.core.contract import Priority
from herald.core.http_pool import ShardedClient
from herald.core.settings import Settings

__all__ = ["DeliveryRequest", "SimulatorStats", "create_simulator_app"]

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_IDEMPOTENCY_CACHE_SIZE = 100_000
_ACK_ATTEMPTS = 4
_ACK_BACKOFF_SECONDS = 0.2
_ACK_TIMEOUT_SECONDS = 5.0
_ACK_CONNECTIONS = 100


class DeliveryRequest(BaseModel):
    """The body of Herald's provider call (DESIGN §6)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    recipient: str = Field(min_length=1)
    content: str
    priority: Priority
    sequence_number: int | None = None
    attempt: int = Field(ge=1)


@dataclass
class SimulatorStats:
    """Counters since start. ``received`` = ``rejected`` (401/422) + ``accepted`` +
    ``duplicates`` (replayed webhook ids) + both failure counts + requests in flight."""

    received: int = 0
    rejected: int = 0
    accepted: int = 0
    duplicates: int = 0
    transient_failures: int = 0
    permanent_failures: int = 0
    acks_sent: int = 0
    acks_failed: int = 0


class _AckOutcome(Enum):
    DONE = "done"
    REFUSED = "refused"
    RETRY = "retry"


def create_simulator_app(settings: Settings, *, rng: random.Random | None = None) -> FastAPI:
    """The simulator's FastAPI app; ``rng`` draws the outcomes (pass a seeded one in tests).

    Raises :class:`RuntimeError` without a provider secret or a gateway secret (it needs the
    first to check signatures and the second to sign its acks), :class:`ValueError` on a
    malformed secret.
    """
    simulator = _Simulator(settings, rng or random.Random())
    app = FastAPI(title="Herald provider simulator", lifespan=simulator.lifespan)
    app.add_api_route("/deliver", simulator.deliver, methods=["POST"])
    app.add_api_route("/stats", simulator.stats, methods=["GET"])
    app.add_api_route("/health", simulator.health, methods=["GET"])
    return app


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class _Simulator:
    """The state behind the routes: settings, outcome draws, counters and ack callbacks."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self._secret = settings.require_provider_secret()
        webhooks.decode_secret(self._secret)
        self._gateway_secret = settings.require_gateway_secret()
        webhooks.decode_secret(self._gateway_secret)
        base = (settings.simulator_ack_url or settings.api_base_url).rstrip("/")
        self._ack_url = f"{base}/v1/messages/ack"
        self._latency = settings.simulator_latency_seconds
        self._ack_delay = settings.simulator_ack_delay_seconds
        self._transient_rate = settings.simulator_transient_failure_rate
        self._permanent_rate = settings.simulator_permanent_failure_rate
        self._rng = rng
        self._stats = SimulatorStats()
        self._accepted_ids: OrderedDict[str, str] = OrderedDict()
        self._callbacks: set[asyncio.Task[None]] = set()
        self._client: ShardedClient | None = None

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """One shared HTTP client for the callbacks; pending callbacks end with the app."""
        async with ShardedClient(_ACK_CONNECTIONS) as client:
            self._client = client
            try:
                yield
            finally:
                await self._cancel_callbacks()
                self._client = None

    async def deliver(self, request: Request) -> JSONResponse:
        """Take one delivery: 401 / 422 / 503 / 400, or 200 and an ack later."""
        self._stats.received += 1
        parsed = self._parse(request, await request.body())
        if isinstance(parsed, JSONResponse):
            self._stats.rejected += 1
            return parsed
        delivery, webhook_id = parsed
        if self._latency > 0:
            await asyncio.sleep(self._latency)
        return self._answer(delivery, webhook_id, propagate.extract(request.headers))

    async def stats(self) -> dict[str, int]:
        """The counters, plus the acknowledgments still to be sent."""
        return {**asdict(self._stats), "acks_pending": len(self._callbacks)}

    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    def _parse(self, request: Request, body: bytes) -> tuple[DeliveryRequest, str] | JSONResponse:
        """The delivery and its signed ``webhook-id``, or the 401 / 422 answer refusing it."""
        try:
            webhooks.verify(self._secret, request.headers, body)
        except webhooks.InvalidSignature as exc:
            return _problem(401, "Invalid signature", str(exc))
        try:
            delivery = DeliveryRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            return _problem(422, "Invalid delivery", "the body is malformed", errors=errors)
        return delivery, request.headers[webhooks.ID_HEADER].strip()

    def _answer(self, delivery: DeliveryRequest, webhook_id: str, trace: Context) -> JSONResponse:
        """Replay an accepted webhook id, or draw a fresh outcome. No ``await``: the lookup
        and the store happen in one step, so concurrent repeats get the same answer."""
        provider_message_id = self._replay(webhook_id)
        if provider_message_id is None:
            failure = self._draw_failure()
            if failure is not None:
                return failure
            provider_message_id = self._accept(webhook_id)
        self._schedule_ack(delivery.id, trace)
        return JSONResponse({"provider_message_id": provider_message_id})

    def _replay(self, webhook_id: str) -> str | None:
        provider_message_id = self._accepted_ids.get(webhook_id)
        if provider_message_id is not None:
            self._stats.duplicates += 1
            self._accepted_ids.move_to_end(webhook_id)
        return provider_message_id

    def _draw_failure(self) -> JSONResponse | None:
        """A simulated failure answer, or ``None`` to accept. If the two rates add up to more
        than 1, the transient one is served first."""
        draw = self._rng.random()
        if draw < self._transient_rate:
            self._stats.transient_failures += 1
            return _problem(503, "Service Unavailable", "simulated transient failure")
        if draw < self._transient_rate + self._permanent_rate:
            self._stats.permanent_failures += 1
            return _problem(400, "Bad Request", "recipient refused (simulated)")
        return None

    def _accept(self, webhook_id: str) -> str:
        self._stats.accepted += 1
        provider_message_id = f"sim-{uuid.uuid4().hex}"
        self._accepted_ids[webhook_id] = provider_message_id
        if len(self._accepted_ids) > _IDEMPOTENCY_CACHE_SIZE:
            self._accepted_ids.popitem(last=False)
        return provider_message_id

    def _schedule_ack(self, message_id: str, trace: Context) -> None:
        """Acknowledge later, in the background (a replay acknowledges again: acks are
        idempotent in Herald, and the first one may have been lost). The callback carries
        the delivery's ``traceparent``, if it had one, so the ack joins the message's trace."""
        token = otel_context.attach(trace)
        try:
            task = asyncio.create_task(self._acknowledge_later(message_id))
        finally:
            otel_context.detach(token)
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def _acknowledge_later(self, message_id: str) -> None:
        await asyncio.sleep(self._ack_delay)
        if await self._send_ack(message_id):
            self._stats.acks_sent += 1
        else:
            self._stats.acks_failed += 1

    async def _send_ack(self, message_id: str) -> bool:
        """POST the ack, retrying connection errors and 5xx with a short backoff."""
        for attempt in range(_ACK_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_ACK_BACKOFF_SECONDS * 2 ** (attempt - 1))
            outcome = await self._try_ack(message_id)
            if outcome is not _AckOutcome.RETRY:
                return outcome is _AckOutcome.DONE
        logger.error("ack of %s failed after %d attempts; giving up", message_id, _ACK_ATTEMPTS)
        return False

    async def _try_ack(self, message_id: str) -> _AckOutcome:
        """One signed callback: its body names the message, so the signature cannot be
        replayed for another; each try is a new ``webhook-id`` with a fresh timestamp."""
        if self._client is None:
            raise RuntimeError("the simulator's lifespan is not running")
        body = json.dumps({"message_ids": [message_id]}).encode()
        headers = {
            "Content-Type": "application/json",
            **webhooks.sign(self._gateway_secret, f"ack_{uuid.uuid4().hex}", body),
        }
        propagate.inject(headers)
        try:
            response = await self._client.post(
                self._ack_url, content=body, headers=headers, timeout=_ACK_TIMEOUT_SECONDS
            )
        except httpx.TransportError as exc:
            logger.warning("ack of %s: %s", message_id, exc.__class__.__name__)
            return _AckOutcome.RETRY
        if response.is_success:
            return _AckOutcome.DONE
        if response.is_server_error:
            logger.warning("ack of %s: HTTP %d", message_id, response.status_code)
            return _AckOutcome.RETRY
        logger.warning(
            "ack of %s refused: HTTP %d %s", message_id, response.status_code, response.text[:200]
        )
        return _AckOutcome.REFUSED

    async def _cancel_callbacks(self) -> None:
        pending = list(self._callbacks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            logger.info("cancelled %d pending acknowledgments", len(pending))
