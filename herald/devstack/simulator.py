"""The provider gateway simulator of DESIGN §6: a real HTTP gateway for development and load.

``POST /deliver`` takes Herald's provider call (Standard Webhooks signed), waits
``simulator_latency_seconds``, then answers 503 (a simulated transient failure), 400 (a
permanent one) or 200 with a ``provider_message_id``. It de-duplicates on the signed
``webhook-id`` (the same on every attempt of a message), not on the unsigned
``Idempotency-Key`` header, which anyone on the path could change. An accepted message is
acknowledged ``simulator_ack_delay_seconds`` later through Herald's
``POST /v1/messages/{id}/ack``, from a background task. ``GET /stats`` counts what happened
(for the load benchmark) and ``GET /health`` answers while the process is up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from herald.core import webhooks
from herald.core.contract import Priority
from herald.core.settings import Settings

__all__ = ["DeliveryRequest", "SimulatorStats", "create_simulator_app"]

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_IDEMPOTENCY_CACHE_SIZE = 100_000
_ACK_ATTEMPTS = 4
_ACK_BACKOFF_SECONDS = 0.2
_ACK_TIMEOUT_SECONDS = 5.0


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

    Raises :class:`RuntimeError` without a provider secret or an API key (it needs the first
    to check signatures and the second to acknowledge), :class:`ValueError` on a malformed
    secret.
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


def _require_api_key(settings: Settings) -> str:
    if not settings.api_keys:
        raise RuntimeError(
            "HERALD_API_KEYS is not set; the simulator acknowledges deliveries with the "
            "first key, so set it, or run `herald dev`, which generates one."
        )
    return settings.api_keys[0]


class _Simulator:
    """The state behind the routes: settings, outcome draws, counters and ack callbacks."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self._secret = settings.require_provider_secret()
        webhooks.decode_secret(self._secret)
        self._ack_headers = {"Authorization": f"Bearer {_require_api_key(settings)}"}
        self._ack_base = (settings.simulator_ack_url or settings.api_base_url).rstrip("/")
        self._latency = settings.simulator_latency_seconds
        self._ack_delay = settings.simulator_ack_delay_seconds
        self._transient_rate = settings.simulator_transient_failure_rate
        self._permanent_rate = settings.simulator_permanent_failure_rate
        self._rng = rng
        self._stats = SimulatorStats()
        self._accepted_ids: OrderedDict[str, str] = OrderedDict()
        self._callbacks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """One shared HTTP client for the callbacks; pending callbacks end with the app."""
        async with httpx.AsyncClient(timeout=_ACK_TIMEOUT_SECONDS) as client:
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
        return self._answer(delivery, webhook_id)

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

    def _answer(self, delivery: DeliveryRequest, webhook_id: str) -> JSONResponse:
        """Replay an accepted webhook id, or draw a fresh outcome. No ``await``: the lookup
        and the store happen in one step, so concurrent repeats get the same answer."""
        provider_message_id = self._replay(webhook_id)
        if provider_message_id is None:
            failure = self._draw_failure()
            if failure is not None:
                return failure
            provider_message_id = self._accept(webhook_id)
        self._schedule_ack(delivery.id)
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

    def _schedule_ack(self, message_id: str) -> None:
        """Acknowledge later, in the background (a replay acknowledges again: acks are
        idempotent in Herald, and the first one may have been lost)."""
        task = asyncio.create_task(self._acknowledge_later(message_id))
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def _acknowledge_later(self, message_id: str) -> None:
        await asyncio.sleep(self._ack_delay)
        url = f"{self._ack_base}/v1/messages/{quote(message_id, safe='')}/ack"
        if await self._send_ack(url):
            self._stats.acks_sent += 1
        else:
            self._stats.acks_failed += 1

    async def _send_ack(self, url: str) -> bool:
        """POST the ack, retrying connection errors and 5xx with a short backoff."""
        for attempt in range(_ACK_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_ACK_BACKOFF_SECONDS * 2 ** (attempt - 1))
            outcome = await self._try_ack(url)
            if outcome is not _AckOutcome.RETRY:
                return outcome is _AckOutcome.DONE
        logger.error("ack %s failed after %d attempts; giving up", url, _ACK_ATTEMPTS)
        return False

    async def _try_ack(self, url: str) -> _AckOutcome:
        if self._client is None:
            raise RuntimeError("the simulator's lifespan is not running")
        try:
            response = await self._client.post(url, headers=self._ack_headers)
        except httpx.TransportError as exc:
            logger.warning("ack %s: %s", url, exc.__class__.__name__)
            return _AckOutcome.RETRY
        if response.is_success:
            return _AckOutcome.DONE
        if response.is_server_error:
            logger.warning("ack %s: HTTP %d", url, response.status_code)
            return _AckOutcome.RETRY
        logger.warning("ack %s refused: HTTP %d %s", url, response.status_code, response.text[:200])
        return _AckOutcome.REFUSED

    async def _cancel_callbacks(self) -> None:
        pending = list(self._callbacks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            logger.info("cancelled %d pending acknowledgments", len(pending))
