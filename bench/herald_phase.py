"""Herald's part of the run: submit N messages (one by one with bounded concurrency, or
through the batch route), wait until PostgreSQL says all are delivered, and measure; then the
accept time of one batch, with no worker running (the API's own work: validate, store, start
the workflows)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import httpx

from bench.cpu import cpu_delta, cpu_ms_per_message
from bench.database import (
    StatementCount,
    delivered_rows,
    reset_statement_stats,
    statement_counts,
    status_counts,
)
from bench.history import history_stats
from bench.stack import BenchStack
from bench.stats import (
    BatchResult,
    DatabaseStats,
    HeraldResult,
    StatementStat,
    percentiles,
    throughput,
)
from bench.waiting import wait_until_counted
from bench.workers import RunningWorker, herald_workers, wait_for_pollers
from herald.core.contract import MessageStatus, workflow_id_for

__all__ = [
    "SubmitMode",
    "Submitter",
    "accept_batch",
    "message_body",
    "run_herald",
    "submit_all",
    "submit_batches",
    "submitter",
    "wait_for_status",
]

POLL_SECONDS = 0.2
TOP_STATEMENTS = 12


@dataclass(frozen=True)
class Submission:
    message_id: str
    sent_at: float
    """POSIX time the request was sent."""
    response_seconds: float


SubmitMode = Literal["single", "batch"]


@dataclass(frozen=True)
class Submitter:
    """How Herald's run puts its messages in: ``submit(api, count)`` through ``route``."""

    route: str
    shape: str
    """How many at once."""
    submit: Callable[[httpx.AsyncClient, int], Awaitable[list[Submission]]]


def submitter(mode: SubmitMode, concurrency: int, batch_size: int) -> Submitter:
    """``single``: ``POST /v1/messages``, ``concurrency`` in flight; ``batch``:
    ``POST /v1/messages/batch``, ``batch_size`` messages a request, one request at a time."""
    if mode == "single":
        return Submitter(
            "POST /v1/messages",
            f"{concurrency} in flight",
            partial(submit_all, concurrency=concurrency),
        )
    return Submitter(
        "POST /v1/messages/batch",
        f"{batch_size} a request",
        partial(submit_batches, batch_size=batch_size),
    )


def message_body(index: int) -> dict[str, str]:
    return {"recipient": f"+1415555{index % 10_000:04d}", "content": f"Benchmark message {index}"}


async def run_herald(
    stack: BenchStack,
    api: httpx.AsyncClient,
    count: int,
    submitter: Submitter,
    history_sample: int,
    timeout: float,
    workers: int = 1,
) -> HeraldResult:
    """Herald's run, with ``workers`` Herald workers started for it and stopped after it."""
    settings = stack.settings
    async with herald_workers(stack.mode, settings, stack.settings_file, workers) as running:
        for worker in running:
            await wait_for_pollers(stack.temporal, settings.task_queue, worker)
        await reset_statement_stats(stack.database)
        cpu_before = stack.cpu(*running)
        since = datetime.now(UTC)
        submissions = await submitter.submit(api, count)
        await wait_for_status(stack, running, since, count, MessageStatus.DELIVERED, timeout)
        cpu = cpu_delta(cpu_before, stack.cpu(*running))
        statements = await statement_counts(stack.database)
        rows = await delivered_rows(stack.database, since)
        workflow_ids = [workflow_id_for(str(row.id)) for row in rows]
        # While the worker runs: a delivered message's workflow may still be finishing.
        history = await history_stats(stack.temporal, workflow_ids, history_sample)
    arrivals = stack.arrivals.arrivals
    return HeraldResult(
        workers=workers,
        submit_route=submitter.route,
        submit_shape=submitter.shape,
        throughput=throughput(
            min(s.sent_at for s in submissions), [row.delivered_at.timestamp() for row in rows]
        ),
        submit_response=percentiles([s.response_seconds for s in submissions]),
        submit_to_provider=percentiles(
            [arrivals[str(row.id)] - row.created_at.timestamp() for row in rows]
        ),
        submit_to_delivered=percentiles(
            [(row.delivered_at - row.created_at).total_seconds() for row in rows]
        ),
        history=history,
        database=database_stats(statements, len(rows)),
        cpu_seconds=cpu,
        cpu_ms_per_message=cpu_ms_per_message(cpu, len(rows)),
    )


async def submit_all(api: httpx.AsyncClient, count: int, concurrency: int) -> list[Submission]:
    """``POST /v1/messages`` ``count`` times from ``concurrency`` virtual users, each with a
    connection of its own and ``api``'s address and key; any answer but 202 fails the run.

    One client per user rather than one client for all: httpx's pool spends CPU in proportion
    to its connections times its waiting requests, and at 50 of each that made the load client
    a third of the benchmark process's CPU, charged to Herald."""
    indexes = iter(range(count))

    async def user() -> list[Submission]:
        submissions = []
        async with httpx.AsyncClient(
            base_url=api.base_url,
            headers=api.headers,
            timeout=api.timeout,
            limits=httpx.Limits(max_connections=1),
        ) as client:
            for index in indexes:
                sent_at, started = time.time(), time.perf_counter()
                response = await client.post("/v1/messages", json=message_body(index))
                elapsed = time.perf_counter() - started
                if response.status_code != httpx.codes.ACCEPTED:
                    raise RuntimeError(
                        f"submit answered {response.status_code}: {response.text[:300]}"
                    )
                submissions.append(Submission(response.json()["id"], sent_at, elapsed))
        return submissions

    async with asyncio.TaskGroup() as group:
        users = [group.create_task(user()) for _ in range(concurrency)]
    return [submission for done in users for submission in done.result()]


async def submit_batches(api: httpx.AsyncClient, count: int, batch_size: int) -> list[Submission]:
    """``count`` messages through ``POST /v1/messages/batch``, ``batch_size`` a request, one
    request after the other; each message's response time is its batch's."""
    submissions = []
    for first in range(0, count, batch_size):
        indexes = range(first, min(count, first + batch_size))
        sent_at, started = time.time(), time.perf_counter()
        results = await submit_batch(api, [message_body(index) for index in indexes])
        elapsed = time.perf_counter() - started
        submissions += [Submission(result["id"], sent_at, elapsed) for result in results]
    return submissions


async def submit_batch(
    api: httpx.AsyncClient, messages: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """One batch, answered with its per-item results; any item refused, or any answer but
    202, fails the run."""
    response = await api.post("/v1/messages/batch", json={"messages": messages})
    if response.status_code != httpx.codes.ACCEPTED or response.json()["failed"]:
        raise RuntimeError(f"batch answered {response.status_code}: {response.text[:300]}")
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def wait_for_status(
    stack: BenchStack,
    workers: list[RunningWorker],
    since: datetime,
    count: int,
    status: MessageStatus,
    timeout: float,
) -> None:
    """Until ``count`` messages submitted since ``since`` are in ``status``; fails on a dead
    letter, or when no more reach it for ``timeout`` seconds."""

    async def reached() -> int:
        for worker in workers:
            worker.check()
        statuses = await status_counts(stack.database, since)
        if statuses.get(MessageStatus.DEAD_LETTERED, 0):
            raise RuntimeError(f"a message was dead-lettered: {statuses}")
        return statuses.get(status, 0)

    await wait_until_counted(reached, count, timeout, POLL_SECONDS, f"messages {status}")


def database_stats(statements: list[StatementCount], delivered: int) -> DatabaseStats:
    calls = sum(statement.calls for statement in statements)
    server_ms = sum(statement.total_ms for statement in statements)
    top = [
        StatementStat(
            _one_line(statement.query),
            round(statement.calls / delivered, 2),
            round(statement.total_ms / statement.calls, 3),
        )
        for statement in statements[:TOP_STATEMENTS]
    ]
    return DatabaseStats(round(calls / delivered, 1), round(server_ms / delivered, 2), top)


def _one_line(query: str, width: int = 160) -> str:
    line = re.sub(r"\s+", " ", query).strip()
    return line if len(line) <= width else line[: width - 1] + "…"


async def accept_batch(api: httpx.AsyncClient, size: int) -> BatchResult:
    """Time ``POST /v1/messages/batch`` with ``size`` messages; an API without the route
    (404 or 405) is reported, not a failure."""
    body = {"messages": [message_body(index) for index in range(size)]}
    started = time.perf_counter()
    response = await api.post("/v1/messages/batch", json=body)
    seconds = round(time.perf_counter() - started, 3)
    status = response.status_code
    if status in (httpx.codes.NOT_FOUND, httpx.codes.METHOD_NOT_ALLOWED):
        return BatchResult(size, status, None, "batch endpoint not available")
    if not response.is_success:
        return BatchResult(size, status, None, f"refused: {response.text[:300]}")
    return BatchResult(size, status, seconds, "accepted")
