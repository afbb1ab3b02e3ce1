"""The provider gateway simulator (herald.devstack.simulator), in process, acknowledging to
a real local HTTP server that stands in for Herald's ack endpoint."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from herald.core.settings import Settings
from herald.core.webhooks import InvalidSignature, generate_secret, sign, verify
from herald.devstack.simulator import create_simulator_app

SECRET = generate_secret()
GATEWAY_SECRET = generate_secret()


@dataclass
class AckServer:
    """A local HTTP server recording ``POST /v1/messages/ack`` calls (the message ids, and
    whether the gateway's signature held); it answers the statuses queued in ``answers``
    first, then 200."""

    url: str
    acks: asyncio.Queue[tuple[list[str], bool]] = field(default_factory=asyncio.Queue)
    answers: list[int] = field(default_factory=list)
    traceparents: list[str | None] = field(default_factory=list)


@pytest.fixture
async def ack_server() -> AsyncIterator[AckServer]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        recorder = AckServer(url=f"http://127.0.0.1:{port}")
        config = uvicorn.Config(_ack_app(recorder), log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))

        async def started() -> bool:
            return server.started

        await _eventually(started)
        yield recorder
        server.should_exit = True
        await serving


def _ack_app(recorder: AckServer) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/messages/ack")
    async def ack(request: Request) -> Response:
        body = await request.body()
        try:
            verify(GATEWAY_SECRET, request.headers, body)
            signed = True
        except InvalidSignature:
            signed = False
        recorder.traceparents.append(request.headers.get("traceparent"))
        await recorder.acks.put((json.loads(body)["message_ids"], signed))
        status = recorder.answers.pop(0) if recorder.answers else 200
        return Response(status_code=status)

    return app


def _settings(ack_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "provider_secret": SECRET,
        "gateway_secret": GATEWAY_SECRET,
        "simulator_ack_url": ack_url,
        "simulator_latency_seconds": 0,
        "simulator_ack_delay_seconds": 0,
        "simulator_transient_failure_rate": 0,
        "simulator_permanent_failure_rate": 0,
    }
    return Settings.model_validate(values | overrides)


@asynccontextmanager
async def _simulator(
    settings: Settings, rng: random.Random | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to the simulator app in process, with its lifespan running."""
    app = create_simulator_app(settings, rng=rng)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            yield client


def _delivery(message_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    return {
        "id": message_id or str(uuid.uuid4()),
        "recipient": "+14155550100",
        "content": "hello",
        "priority": "normal",
        "sequence_number": 1,
        "attempt": 1,
    } | overrides


async def _deliver(
    client: httpx.AsyncClient,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    secret: str = SECRET,
    traceparent: str | None = None,
) -> httpx.Response:
    """Signed as Herald signs: the ``webhook-id`` is the message id on every attempt."""
    body = json.dumps(payload).encode()
    headers = sign(secret, str(payload.get("id")), body)
    if traceparent is not None:
        headers["traceparent"] = traceparent
    headers["Idempotency-Key"] = idempotency_key or str(payload.get("id"))
    headers["Content-Type"] = "application/json"
    return await client.post("/deliver", content=body, headers=headers)


async def _stats(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get("/stats")
    assert response.status_code == 200
    stats: dict[str, int] = response.json()
    return stats


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait up to about 5 s for ``check`` to hold."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not hold within 5 s")


async def _acks_settle(client: httpx.AsyncClient, sent: int, failed: int = 0) -> dict[str, int]:
    async def settled() -> bool:
        stats = await _stats(client)
        return (stats["acks_sent"], stats["acks_failed"], stats["acks_pending"]) == (
            sent,
            failed,
            0,
        )

    await _eventually(settled)
    return await _stats(client)


async def test_accepted_delivery_is_acknowledged_with_a_signed_callback(
    ack_server: AckServer,
) -> None:
    message_id = str(uuid.uuid4())
    async with _simulator(_settings(ack_server.url)) as client:
        response = await _deliver(client, _delivery(message_id))
        assert response.status_code == 200
        assert response.json()["provider_message_id"].startswith("sim-")
        async with asyncio.timeout(5):
            assert await ack_server.acks.get() == ([message_id], True)
        stats = await _acks_settle(client, sent=1)
    assert stats["received"] == stats["accepted"] == 1


async def test_the_ack_continues_the_deliverys_trace(ack_server: AckServer) -> None:
    traceparent = f"00-{'ab' * 16}-{'cd' * 8}-01"
    async with _simulator(_settings(ack_server.url)) as client:
        assert (await _deliver(client, _delivery(), traceparent=traceparent)).status_code == 200
        assert (await _deliver(client, _delivery())).status_code == 200
        await _acks_settle(client, sent=2)
    assert sorted(ack_server.traceparents, key=str) == [traceparent, None]


async def test_ack_is_sent_after_the_configured_delay(ack_server: AckServer) -> None:
    settings = _settings(ack_server.url, simulator_ack_delay_seconds=0.3)
    async with _simulator(settings) as client:
        started = asyncio.get_running_loop().time()
        assert (await _deliver(client, _delivery())).status_code == 200
        answered = asyncio.get_running_loop().time()
        async with asyncio.timeout(5):
            await ack_server.acks.get()
        acked = asyncio.get_running_loop().time()
    assert answered - started < 0.3 <= acked - started


async def test_ack_is_retried_after_a_server_error(ack_server: AckServer) -> None:
    ack_server.answers.extend([503, 502])
    async with _simulator(_settings(ack_server.url)) as client:
        assert (await _deliver(client, _delivery())).status_code == 200
        await _acks_settle(client, sent=1)
    assert ack_server.acks.qsize() == 3


async def test_refused_ack_is_not_retried(ack_server: AckServer) -> None:
    ack_server.answers.append(404)
    async with _simulator(_settings(ack_server.url)) as client:
        assert (await _deliver(client, _delivery())).status_code == 200
        await _acks_settle(client, sent=0, failed=1)
    assert ack_server.acks.qsize() == 1


async def test_unreachable_ack_endpoint_is_counted_as_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with _simulator(_settings(closed_url)) as client:
        assert (await _deliver(client, _delivery())).status_code == 200
        await _acks_settle(client, sent=0, failed=1)


async def test_shutdown_cancels_pending_acks(ack_server: AckServer) -> None:
    settings = _settings(ack_server.url, simulator_ack_delay_seconds=60)
    async with asyncio.timeout(5), _simulator(settings) as client:
        assert (await _deliver(client, _delivery())).status_code == 200
        assert (await _stats(client))["acks_pending"] == 1
    assert ack_server.acks.empty()


@pytest.mark.parametrize(
    ("secret", "drop"),
    [(generate_secret(), None), (SECRET, "webhook-signature"), (SECRET, "webhook-id")],
)
async def test_bad_or_missing_signature_is_refused(
    ack_server: AckServer, secret: str, drop: str | None
) -> None:
    async with _simulator(_settings(ack_server.url)) as client:
        payload = _delivery()
        body = json.dumps(payload).encode()
        headers = sign(secret, "msg_1", body) | {"Idempotency-Key": payload["id"]}
        if drop is not None:
            del headers[drop]
        response = await client.post("/deliver", content=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401
        stats = await _stats(client)
    assert (stats["received"], stats["rejected"], stats["accepted"]) == (1, 1, 0)
    assert ack_server.acks.empty()


async def test_tampered_body_is_refused(ack_server: AckServer) -> None:
    async with _simulator(_settings(ack_server.url)) as client:
        body = json.dumps(_delivery()).encode()
        headers = sign(SECRET, "msg_1", body) | {"Idempotency-Key": "k"}
        response = await client.post("/deliver", content=body + b" ", headers=headers)
    assert response.status_code == 401
    assert "no webhook-signature matches" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        _delivery(priority="urgent"),
        _delivery(attempt=0),
        {k: v for k, v in _delivery().items() if k != "recipient"},
        ["not", "an", "object"],
    ],
)
async def test_malformed_body_is_unprocessable(ack_server: AckServer, payload: Any) -> None:
    async with _simulator(_settings(ack_server.url)) as client:
        body = json.dumps(payload).encode()
        headers = sign(SECRET, "msg_1", body) | {"Idempotency-Key": "k"}
        response = await client.post("/deliver", content=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


async def test_a_replay_with_another_idempotency_key_is_a_duplicate(
    ack_server: AckServer,
) -> None:
    """The unsigned ``Idempotency-Key`` does not make a signed delivery new: the simulator
    de-duplicates on the signed ``webhook-id``."""
    delivery = _delivery()
    async with _simulator(_settings(ack_server.url)) as client:
        first = await _deliver(client, delivery, idempotency_key="one")
        replay = await _deliver(client, delivery, idempotency_key="two")
        stats = await _acks_settle(client, sent=2)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert (stats["accepted"], stats["duplicates"]) == (1, 1)


@pytest.mark.parametrize(
    ("rate", "status", "counter"),
    [
        ("simulator_transient_failure_rate", 503, "transient_failures"),
        ("simulator_permanent_failure_rate", 400, "permanent_failures"),
    ],
)
async def test_failure_rate_one_always_fails_and_never_acks(
    ack_server: AckServer, rate: str, status: int, counter: str
) -> None:
    async with _simulator(_settings(ack_server.url, **{rate: 1.0})) as client:
        for _ in range(3):
            response = await _deliver(client, _delivery())
            assert response.status_code == status
            assert response.headers["content-type"] == "application/problem+json"
        await asyncio.sleep(0.1)
        stats = await _stats(client)
    assert (stats[counter], stats["accepted"], stats["acks_sent"]) == (3, 0, 0)
    assert ack_server.acks.empty()


async def test_permanent_failure_says_recipient_refused(ack_server: AckServer) -> None:
    settings = _settings(ack_server.url, simulator_permanent_failure_rate=1.0)
    async with _simulator(settings) as client:
        response = await _deliver(client, _delivery())
    assert "recipient refused" in response.json()["detail"]


async def test_every_attempt_of_a_message_gets_the_same_provider_message_id(
    ack_server: AckServer,
) -> None:
    message_id = str(uuid.uuid4())
    async with _simulator(_settings(ack_server.url)) as client:
        first = await _deliver(client, _delivery(message_id))
        again = await _deliver(client, _delivery(message_id, attempt=2))
        other = await _deliver(client, _delivery())
        stats = await _acks_settle(client, sent=3)
    assert first.status_code == again.status_code == other.status_code == 200
    first_id = first.json()["provider_message_id"]
    assert again.json()["provider_message_id"] == first_id
    assert other.json()["provider_message_id"] != first_id
    assert (stats["accepted"], stats["duplicates"]) == (2, 1)


class ScriptedRandom(random.Random):
    """Answers ``random()`` with the given draws, in order."""

    def __init__(self, draws: list[float]) -> None:
        super().__init__()
        self._draws = draws

    def random(self) -> float:
        return self._draws.pop(0)

    @property
    def exhausted(self) -> bool:
        return not self._draws


async def test_failed_attempt_does_not_pin_the_webhook_id(ack_server: AckServer) -> None:
    """A retry after a simulated failure gets a fresh draw, as with a real gateway; once
    accepted, the webhook id replays without drawing again."""
    settings = _settings(ack_server.url, simulator_transient_failure_rate=0.5)
    rng = ScriptedRandom([0.1, 0.9])
    message_id = str(uuid.uuid4())
    async with _simulator(settings, rng=rng) as client:
        responses = [
            await _deliver(client, _delivery(message_id, attempt=attempt)) for attempt in (1, 2, 3)
        ]
        await _acks_settle(client, sent=2)
    assert [response.status_code for response in responses] == [503, 200, 200]
    assert responses[1].json() == responses[2].json()
    assert rng.exhausted


async def test_outcomes_follow_the_injected_random_draws(ack_server: AckServer) -> None:
    settings = _settings(
        ack_server.url,
        simulator_transient_failure_rate=0.3,
        simulator_permanent_failure_rate=0.3,
    )
    reference = random.Random(42)
    expected = [
        503 if draw < 0.3 else 400 if draw < 0.6 else 200
        for draw in (reference.random() for _ in range(20))
    ]
    async with _simulator(settings, rng=random.Random(42)) as client:
        statuses = [(await _deliver(client, _delivery())).status_code for _ in range(20)]
        stats = await _acks_settle(client, sent=expected.count(200))
    assert statuses == expected
    assert {503, 400, 200} <= set(statuses)
    assert stats["transient_failures"] == expected.count(503)
    assert stats["permanent_failures"] == expected.count(400)


async def test_health(ack_server: AckServer) -> None:
    async with _simulator(_settings(ack_server.url)) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gateway_secret": None}, "HERALD_GATEWAY_SECRET"),
        ({"provider_secret": None}, "HERALD_PROVIDER_SECRET"),
    ],
)
def test_configuration_it_cannot_run_without_is_refused(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        create_simulator_app(_settings("http://127.0.0.1:1", **overrides))


def test_malformed_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        create_simulator_app(_settings("http://127.0.0.1:1", provider_secret="whsec_!!"))
