"""Readiness (200, or 503 naming what is down) and the metrics after a known workload.

The metrics count every message in the database, so this module runs Herald on a database of
its own, created (and migrated) in the session's PostgreSQL: the numbers are exact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import make_url

from herald.core.logs import KeyValueFormatter
from herald.core.settings import Settings
from herald.devstack.ports import free_port
from herald.devstack.postgres import EmbeddedPostgres
from tests.databases import fresh_database, run_as_admin
from tests.stack import Stack, running_worker, serving_api

WINDOW_SECONDS = 300.0


@pytest.fixture(scope="module")
async def own_database(postgres_server: EmbeddedPostgres) -> AsyncIterator[str]:
    """A migrated database of this module's own; its URL."""
    async with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture
def settings_overrides(own_database: str) -> dict[str, Any]:
    """Acks come when the test sends them: no ack timeout re-sends meanwhile."""
    return {
        "database_url": own_database,
        "ack_timeout_seconds": 60,
        "metrics_window_seconds": WINDOW_SECONDS,
        "metrics_refresh_seconds": 0.2,
    }


def nothing_listening() -> str:
    return f"127.0.0.1:{free_port()}"


@asynccontextmanager
async def anonymous_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API on ``settings`` (no worker), and a client without an API key."""
    async with serving_api(settings, api_key=None) as client:
        yield client


async def test_ready_when_database_and_temporal_answer(stack: Stack) -> None:
    async with anonymous_client(stack.settings) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "temporal": "ok", "outbox_relay": "ok"},
    }


@pytest.mark.parametrize(
    ("down", "unreachable"),
    [
        ("temporal", lambda: {"temporal_address": nothing_listening()}),
        (
            "database",
            lambda: {"database_url": f"postgresql+asyncpg://postgres@{nothing_listening()}/x"},
        ),
    ],
)
async def test_not_ready_names_the_component_that_is_down(
    settings: Settings, down: str, unreachable: Callable[[], dict[str, str]]
) -> None:
    started = time.monotonic()
    async with anonymous_client(settings.model_copy(update=unreachable())) as client:
        response = await client.get("/health/ready")
        live = await client.get("/health/live")
    assert time.monotonic() - started < 10, "each check is bounded by a short timeout"
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    problem = response.json()
    assert problem["detail"] == f"not ready: {down} failing (see the API's log)"
    up = ({"database", "temporal"} - {down}).pop()
    assert problem["checks"] == {up: "ok", down: "failing", "outbox_relay": "ok"}
    assert "127.0.0.1" not in response.text, "no error text for anonymous callers"
    assert live.status_code == 200


async def summary(stack: Stack) -> dict[str, Any]:
    response = await stack.api.get("/v1/metrics")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_metrics_after_a_known_workload(stack: Stack) -> None:
    """One high message delivered at once, one normal delivered after a 503 (one retry), one
    low refused with a 400 (dead-lettered): 4 attempts, 1 of them a retry."""
    started = time.monotonic()
    assert await summary(stack) == {
        "window_seconds": WINDOW_SECONDS,
        "delivered": 0,
        "dead_lettered": 0,
        "messages_per_second": 0.0,
        "average_processing_time_ms": None,
        "queue_depth": {"high": 0, "normal": 0, "low": 0},
        "retry_rate": 0.0,
        "failure_rate": 0.0,
        "circuit_breaker_state": {},
    }

    high = await stack.submit(priority="high")
    await stack.wait_for_status(high["id"], "awaiting_ack")
    stack.gateway.answer(503)
    normal = await stack.submit(priority="normal")
    await stack.wait_for_status(normal["id"], "retrying")
    await stack.wait_for_status(normal["id"], "awaiting_ack")
    stack.gateway.answer(400)
    low = await stack.submit(priority="low")
    await stack.wait_for_status(low["id"], "dead_lettered")

    waiting = await summary(stack)
    assert waiting["queue_depth"] == {"high": 1, "normal": 1, "low": 0}
    assert (waiting["delivered"], waiting["dead_lettered"]) == (0, 1)
    assert waiting["failure_rate"] == 1.0
    assert waiting["retry_rate"] == 0.0

    for message in (high, normal):
        assert (await stack.api.post(f"/v1/messages/{message['id']}/ack")).status_code == 200
        await stack.wait_for_status(message["id"], "delivered")

    settled = await summary(stack)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert settled["queue_depth"] == {"high": 0, "normal": 0, "low": 0}
    assert (settled["delivered"], settled["dead_lettered"]) == (2, 1)
    assert settled["messages_per_second"] == pytest.approx(2 / WINDOW_SECONDS)
    assert settled["failure_rate"] == pytest.approx(1 / 3)
    assert settled["retry_rate"] == pytest.approx(1 / 4)
    assert 0 < settled["average_processing_time_ms"] < elapsed_ms
    assert settled["circuit_breaker_state"] == {"http": "closed"}

    await assert_prometheus_exposition(stack, settled)


async def assert_prometheus_exposition(stack: Stack, expected: dict[str, Any]) -> None:
    """``/metrics`` (no API key) shows the same numbers, once refreshed, and this API's own
    request series."""
    async with httpx.AsyncClient(base_url=str(stack.api.base_url)) as anonymous:
        async with asyncio.timeout(10):
            while True:
                response = await anonymous.get("/metrics")
                assert response.status_code == 200, response.text
                samples = Samples(response.text)
                delivered = samples.value("herald_messages_delivered_per_second")
                if delivered == pytest.approx(expected["messages_per_second"]):
                    break
                await asyncio.sleep(0.1)
    assert response.headers["content-type"].startswith("text/plain")
    assert 0 <= samples.value("herald_metrics_age_seconds") < 5
    assert samples.value("herald_queue_depth", priority="high") == 0
    assert samples.value("herald_messages_delivered_per_second") == pytest.approx(
        expected["messages_per_second"]
    )
    assert samples.value("herald_failure_rate") == pytest.approx(expected["failure_rate"])
    assert samples.value("herald_retry_rate") == pytest.approx(expected["retry_rate"])
    assert samples.value("herald_average_processing_time_seconds") == pytest.approx(
        expected["average_processing_time_ms"] / 1000
    )
    breaker = "herald_circuit_breaker_state"
    assert samples.value(breaker, provider="http", state="closed") == 1
    assert samples.value(breaker, provider="http", state="open") == 0
    submits = {"route": "/v1/messages", "method": "POST"}
    assert samples.value("herald_api_requests_total", **submits, status="202") == 3
    assert samples.value("herald_api_request_duration_seconds_count", **submits) == 3
    assert samples.value("herald_process_resident_memory_bytes") > 0


class Samples:
    """The samples of a text exposition, looked up by name and labels."""

    def __init__(self, exposition: str) -> None:
        self._values = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        return self._values[name, frozenset(labels.items())]


async def test_the_worker_logs_a_metrics_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings.model_copy(update={"metrics_log_interval_seconds": 0.2})
    with caplog.at_level(logging.INFO, logger="herald.metrics"):
        async with running_worker(settings), asyncio.timeout(20):
            while not (lines := [r for r in caplog.records if r.name == "herald.metrics"]):
                await asyncio.sleep(0.05)
    line = KeyValueFormatter().format(lines[0])
    assert line.startswith("metrics ")
    for field in ("messages_per_second=", "queue_depth_high=", "failure_rate=", "retry_rate="):
        assert field in line


async def test_the_worker_serves_the_sdk_metrics(settings: Settings) -> None:
    port = free_port()
    settings = settings.model_copy(update={"worker_metrics_port": port})
    async with (
        running_worker(settings),
        httpx.AsyncClient(base_url=f"http://{settings.api_host}:{port}") as client,
        asyncio.timeout(20),
    ):
        while "temporal_worker_task_slots_available" not in (text := await scrape(client)):
            await asyncio.sleep(0.1)
    assert f'task_queue="{settings.task_queue}"' in text


async def scrape(client: httpx.AsyncClient) -> str:
    try:
        return (await client.get("/metrics")).text
    except httpx.ConnectError:  # the worker has not started yet
        return ""


async def test_a_scrape_does_not_query_the_database(
    settings: Settings, postgres_server: EmbeddedPostgres
) -> None:
    """``/metrics`` serves the gauges its process refreshes: with the database gone, it still
    answers, the gauges aging, while readiness reports the database."""
    async with fresh_database(postgres_server) as url:
        settings = settings.model_copy(update={"database_url": url, "metrics_refresh_seconds": 0.2})
        async with serving_api(settings, api_key=None) as client:
            async with asyncio.timeout(10):
                while "herald_queue_depth" not in (await client.get("/metrics")).text:
                    await asyncio.sleep(0.1)
            name = make_url(url).database
            await run_as_admin(postgres_server, f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            await run_as_admin(
                postgres_server,
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            )
            assert (await client.get("/health/ready")).status_code == 503
            for _ in range(5):
                response = await client.get("/metrics")
                assert response.status_code == 200
                assert Samples(response.text).value("herald_queue_depth", priority="low") == 0
            assert Samples(response.text).value("herald_metrics_age_seconds") > 0
