"""The per-provider circuit breaker on the real PostgreSQL, and ``GET /v1/circuit-breakers``.

Each test uses a provider name of its own, so the shared table does not couple tests.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from herald.activities.breaker import Admission, Outcome, ProviderBreaker
from herald.core.contract import FailureClass
from herald.core.database import SessionFactory, create_engine, session_factory
from herald.core.errors import CircuitOpen, RecoverableDeliveryError
from herald.core.models import CircuitBreaker, CircuitBreakerState
from herald.devstack.postgres import EmbeddedPostgres
from tests.stack import Stack

ONE_SECOND = timedelta(seconds=1)
PAST_ONE_SECOND = 1.2


@pytest.fixture
async def engine(postgres_server: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_server.url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
def provider() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def make_breaker(sessions: SessionFactory, provider: str, **options: Any) -> ProviderBreaker:
    """Sample size 4, threshold 0.5, open for 30 s, unless ``options`` say otherwise."""
    defaults: dict[str, Any] = {
        "failure_threshold": 0.5,
        "sample_size": 4,
        "open_timeout": timedelta(seconds=30),
    }
    return ProviderBreaker(sessions, provider, **(defaults | options))


async def send(breaker: ProviderBreaker, *outcomes: Outcome) -> None:
    """Admitted requests that ended with ``outcomes``, one after the other."""
    for outcome in outcomes:
        await breaker.record(await breaker.admit(), outcome)


def repeat(outcome: Outcome, count: int) -> list[Outcome]:
    return [outcome] * count


async def stored(sessions: SessionFactory, provider: str) -> CircuitBreaker:
    async with sessions() as session:
        row = await session.get(CircuitBreaker, provider)
    assert row is not None
    return row


def transitions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str, float]]:
    """``(provider, from, to, failure_rate)`` of each transition line logged."""
    lines = [vars(r) for r in caplog.records if r.getMessage() == "circuit breaker transition"]
    return [(line["provider"], line["from"], line["to"], line["failure_rate"]) for line in lines]


@contextmanager
def statements_run(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs."""
    statements: list[str] = []

    def collect(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", collect)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", collect)


async def test_opens_when_a_full_window_reaches_the_threshold(
    sessions: SessionFactory, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = make_breaker(sessions, provider)
    caplog.set_level(logging.INFO, logger="herald.activities.breaker")

    await send(breaker, "success", "success", "success", "failure")
    assert (await stored(sessions, provider)).state is CircuitBreakerState.CLOSED  # 0.25
    await send(breaker, "failure")
    row = await stored(sessions, provider)
    assert (row.state, row.outcomes) == (CircuitBreakerState.OPEN, "SSFF")
    assert row.opened_at is not None
    with pytest.raises(CircuitOpen):
        await breaker.admit()
    assert transitions(caplog) == [(provider, "closed", "open", 0.5)]


async def test_a_window_that_is_not_full_does_not_open(
    sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider)
    await send(breaker, "failure", "failure", "failure")
    assert await breaker.admit() == Admission(is_probe=False, window="FFF")
    await send(breaker, "failure")
    assert (await stored(sessions, provider)).state is CircuitBreakerState.OPEN


async def test_neutral_outcomes_and_a_storm_of_permanent_refusals_do_not_open(
    sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider)
    await send(breaker, "failure")
    await send(breaker, *repeat("neutral", 20))  # 429s: the window does not move
    assert (await stored(sessions, provider)).outcomes == "F"
    await send(breaker, *repeat("success", 20))  # 400s: the provider answered, it is healthy
    row = await stored(sessions, provider)
    assert (row.state, row.outcomes) == (CircuitBreakerState.CLOSED, "SSSS")


async def test_an_open_breaker_refuses_until_its_timeout(
    sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider)
    await send(breaker, *repeat("failure", 4))
    with pytest.raises(CircuitOpen) as refused:
        await breaker.admit()
    err = refused.value
    assert isinstance(err, RecoverableDeliveryError)
    assert err.failure_class is FailureClass.RECOVERABLE
    assert err.provider == provider
    assert 28 < err.retry_after_seconds <= 30
    assert provider in err.reason


async def test_after_the_timeout_exactly_one_of_many_concurrent_admits_probes(
    sessions: SessionFactory, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = make_breaker(sessions, provider, open_timeout=ONE_SECOND)
    caplog.set_level(logging.INFO, logger="herald.activities.breaker")
    await send(breaker, *repeat("failure", 4))
    await asyncio.sleep(PAST_ONE_SECOND)

    workers = [make_breaker(sessions, provider, open_timeout=ONE_SECOND) for _ in range(8)]
    results = await asyncio.gather(*(w.admit() for w in workers), return_exceptions=True)

    probes = [result for result in results if isinstance(result, Admission)]
    refused = [result for result in results if isinstance(result, CircuitOpen)]
    assert [probe.is_probe for probe in probes] == [True]
    assert len(refused) == 7
    assert all(0 < err.retry_after_seconds <= 1 for err in refused)
    row = await stored(sessions, provider)
    assert row.state is CircuitBreakerState.HALF_OPEN
    assert row.probe_started_at is not None
    assert transitions(caplog) == [
        (provider, "closed", "open", 1.0),
        (provider, "open", "half_open", 1.0),
    ]


async def test_a_probe_failure_reopens_and_a_probe_success_closes(
    sessions: SessionFactory, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = make_breaker(sessions, provider, open_timeout=ONE_SECOND)
    caplog.set_level(logging.INFO, logger="herald.activities.breaker")
    await send(breaker, *repeat("failure", 4))
    first_opened_at = (await stored(sessions, provider)).opened_at
    assert first_opened_at is not None

    await asyncio.sleep(PAST_ONE_SECOND)
    await breaker.record(await breaker.admit(), "failure")
    reopened = await stored(sessions, provider)
    assert reopened.state is CircuitBreakerState.OPEN
    assert reopened.opened_at is not None and reopened.opened_at > first_opened_at
    assert reopened.probe_started_at is None
    with pytest.raises(CircuitOpen) as refused:
        await breaker.admit()
    assert 0.5 < refused.value.retry_after_seconds <= 1  # the timeout starts again

    await asyncio.sleep(PAST_ONE_SECOND)
    probe = await breaker.admit()
    assert probe.is_probe
    await breaker.record(probe, "success")
    closed = await stored(sessions, provider)
    assert closed.state is CircuitBreakerState.CLOSED
    assert (closed.outcomes, closed.opened_at) == ("", None)
    assert await breaker.admit() == Admission(is_probe=False, window="")
    assert [(f, t) for _, f, t, _ in transitions(caplog)] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


async def test_a_stale_probe_lease_is_claimed_again(
    sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider, open_timeout=ONE_SECOND, probe_lease=ONE_SECOND)
    await send(breaker, *repeat("failure", 4))
    await asyncio.sleep(PAST_ONE_SECOND)
    lost = await breaker.admit()  # its worker dies: it never records
    assert lost.is_probe
    with pytest.raises(CircuitOpen):
        await breaker.admit()

    await asyncio.sleep(PAST_ONE_SECOND)
    again = await breaker.admit()
    assert again.is_probe
    await breaker.record(again, "success")
    assert (await stored(sessions, provider)).state is CircuitBreakerState.CLOSED


async def test_a_neutral_probe_frees_the_slot_for_the_next_one(
    sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider, open_timeout=ONE_SECOND)
    await send(breaker, *repeat("failure", 4))
    await asyncio.sleep(PAST_ONE_SECOND)
    await breaker.record(await breaker.admit(), "neutral")  # a 429 tells nothing
    row = await stored(sessions, provider)
    assert (row.state, row.probe_started_at) == (CircuitBreakerState.HALF_OPEN, None)
    assert (await breaker.admit()).is_probe


async def test_two_workers_share_one_breaker(
    sessions: SessionFactory, postgres_server: EmbeddedPostgres, provider: str
) -> None:
    other_engine = create_engine(postgres_server.url)
    try:
        one = make_breaker(sessions, provider, open_timeout=ONE_SECOND)
        two = make_breaker(session_factory(other_engine), provider, open_timeout=ONE_SECOND)
        await send(one, "failure", "failure")
        await send(two, "failure", "failure")
        with pytest.raises(CircuitOpen):
            await one.admit()
        with pytest.raises(CircuitOpen):
            await two.admit()

        await asyncio.sleep(PAST_ONE_SECOND)
        probe = await two.admit()
        assert probe.is_probe
        with pytest.raises(CircuitOpen):
            await one.admit()  # the probe of the other worker is in flight
        await two.record(probe, "success")
        assert await one.admit() == Admission(is_probe=False, window="")
    finally:
        await other_engine.dispose()


async def test_a_result_that_comes_back_after_the_breaker_opened_changes_nothing(
    sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider)
    slow = await breaker.admit()
    await send(breaker, *repeat("failure", 4))
    await breaker.record(slow, "failure")
    row = await stored(sessions, provider)
    assert (row.state, row.outcomes) == (CircuitBreakerState.OPEN, "FFFF")


async def test_the_happy_path_reads_once_and_writes_nothing(
    engine: AsyncEngine, sessions: SessionFactory, provider: str
) -> None:
    breaker = make_breaker(sessions, provider)
    await send(breaker, *repeat("success", 4))
    before = await stored(sessions, provider)

    with statements_run(engine) as statements:
        await breaker.record(await breaker.admit(), "success")
        await breaker.record(await breaker.admit(), "neutral")
    assert len(statements) == 2
    assert all(statement.lstrip().upper().startswith("SELECT") for statement in statements)
    after = await stored(sessions, provider)
    assert (after.outcomes, after.updated_at) == ("SSSS", before.updated_at)


def test_a_window_wider_than_its_column_is_refused(sessions: SessionFactory) -> None:
    with pytest.raises(ValueError, match="sample_size"):
        make_breaker(sessions, "wide", sample_size=1001)


@pytest.fixture
async def fresh_http_breaker(sessions: SessionFactory) -> AsyncIterator[None]:
    """Delivering tests share the ``http`` breaker: start from a fresh one, leave a fresh one."""

    async def forget() -> None:
        async with sessions() as session:
            await session.exec(delete(CircuitBreaker).where(col(CircuitBreaker.provider) == "http"))
            await session.commit()

    await forget()
    yield
    await forget()


async def listed(stack: Stack) -> dict[str, dict[str, Any]]:
    response = await stack.api.get("/v1/circuit-breakers")
    assert response.status_code == 200, response.text
    return {item["provider"]: item for item in response.json()["items"]}


@pytest.mark.parametrize(
    "settings_overrides",
    [{"circuit_breaker_sample_size": 4, "circuit_breaker_timeout_seconds": 1}],
)
@pytest.mark.usefixtures("fresh_http_breaker")
async def test_get_circuit_breakers_shows_state_failure_rate_and_timing(
    stack: Stack, sessions: SessionFactory, provider: str
) -> None:
    http = ProviderBreaker.from_settings(sessions, "http", stack.settings)
    await send(http, "success", "failure", "success")
    flaky = ProviderBreaker.from_settings(sessions, provider, stack.settings)
    await send(flaky, *repeat("failure", 4))

    breakers = await listed(stack)
    assert breakers["http"] == {
        "provider": "http",
        "state": "closed",
        "failure_rate": pytest.approx(1 / 3),
        "samples": 3,
        "sample_size": 4,
        "opened_at": None,
        "half_open_at": None,
    }
    opened = breakers[provider]
    assert (opened["state"], opened["failure_rate"], opened["samples"]) == ("open", 1.0, 4)
    opened_at = datetime.fromisoformat(opened["opened_at"])
    assert datetime.fromisoformat(opened["half_open_at"]) - opened_at == ONE_SECOND

    await asyncio.sleep(PAST_ONE_SECOND)
    assert (await listed(stack))[provider]["state"] == "half_open"  # the next admit probes
    assert (await stored(sessions, provider)).state is CircuitBreakerState.OPEN

    anonymous = await stack.api.get("/v1/circuit-breakers", headers={"Authorization": ""})
    assert anonymous.status_code == 401
