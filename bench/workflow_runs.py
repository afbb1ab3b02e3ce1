"""What the bare and the naive baselines share: a worker of their own on the run's task
queue, N workflows started from the Temporal client with bounded concurrency, waited for
until Temporal's visibility lists them all completed, and measured (throughput from the first
start to the last close, latencies from each start, CPU by part, history events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from temporalio.client import Client

from bench.cpu import cpu_delta, cpu_ms_per_message
from bench.history import history_stats
from bench.stack import BenchStack
from bench.stats import BaselineResult, HistoryStats, percentiles, throughput
from bench.waiting import wait_until_counted
from bench.workers import RunningWorker, wait_for_pollers

__all__ = ["StartOne", "WorkflowsRun", "baseline_result", "run_workflows"]

POLL_SECONDS = 0.25

StartOne = Callable[[int, str], Awaitable[object]]
"""Starts workflow number ``index`` with the id given (on the run's task queue)."""


@dataclass(frozen=True)
class WorkflowsRun:
    started: dict[str, float]
    """POSIX time each workflow's start was sent, by workflow id."""
    closed: dict[str, float]
    """Close time Temporal recorded, by workflow id."""
    history: HistoryStats
    cpu_seconds: dict[str, float]


async def run_workflows(
    stack: BenchStack,
    worker_context: AbstractAsyncContextManager[RunningWorker],
    task_queue: str,
    count: int,
    start_one: StartOne,
    concurrency: int,
    history_sample: int,
    timeout: float,
) -> WorkflowsRun:
    """``count`` workflows ``<task_queue>-<index>``, with the worker started for them."""
    client = stack.temporal
    async with worker_context as worker:
        await wait_for_pollers(client, task_queue, worker)
        cpu_before = stack.cpu(worker)
        workflow_ids = [f"{task_queue}-{index}" for index in range(count)]
        started = await start_all(workflow_ids, start_one, concurrency)
        closed = await wait_until_closed(client, task_queue, count, timeout, worker)
        cpu = cpu_delta(cpu_before, stack.cpu(worker))
    history = await history_stats(client, workflow_ids, history_sample)
    return WorkflowsRun(started, closed, history, cpu)


def baseline_result(
    kind: str, run: str, workflows: WorkflowsRun, arrivals: Mapping[str, float] | None = None
) -> BaselineResult:
    """The figures of a baseline run; ``arrivals`` (by workflow id) for one that calls a
    provider."""
    started, closed = workflows.started, workflows.closed
    return BaselineResult(
        kind=kind,
        run=run,
        throughput=throughput(min(started.values()), list(closed.values())),
        start_to_closed=percentiles([closed[id_] - started[id_] for id_ in closed]),
        start_to_provider=(
            None
            if arrivals is None
            else percentiles([arrivals[id_] - started[id_] for id_ in closed])
        ),
        history=workflows.history,
        cpu_seconds=workflows.cpu_seconds,
        cpu_ms_per_message=cpu_ms_per_message(workflows.cpu_seconds, len(closed)),
    )


async def start_all(
    workflow_ids: list[str], start_one: StartOne, concurrency: int
) -> dict[str, float]:
    """Start the workflows, ``concurrency`` at once; when each start was sent."""
    limit = asyncio.Semaphore(concurrency)
    sent: dict[str, float] = {}

    async def start(index: int, workflow_id: str) -> None:
        async with limit:
            sent[workflow_id] = time.time()
            await start_one(index, workflow_id)

    async with asyncio.TaskGroup() as group:
        for index, workflow_id in enumerate(workflow_ids):
            group.create_task(start(index, workflow_id))
    return sent


async def wait_until_closed(
    client: Client, task_queue: str, count: int, timeout: float, worker: RunningWorker
) -> dict[str, float]:
    """Until ``count`` workflows of ``task_queue`` have completed; their close times."""
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Completed'"

    async def completed() -> int:
        worker.check()
        return (await client.count_workflows(query)).count

    await wait_until_counted(
        completed, count, timeout, POLL_SECONDS, f"workflows completed on {task_queue}"
    )
    return {
        execution.id: execution.close_time.timestamp()
        async for execution in client.list_workflows(query)
        if execution.close_time is not None
    }
