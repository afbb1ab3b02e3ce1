"""The baseline's part of the run: N bare one-activity workflows on their own task queue and
worker, started with the same concurrency as Herald's submits, timed from the first start to
the last close (as Temporal's visibility records it)."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client

from bench.baseline_workflow import BaselineWorkflow
from bench.cpu import cpu_delta
from bench.history import history_stats
from bench.stack import BenchStack
from bench.stats import BaselineResult, throughput
from bench.workers import RunningWorker, baseline_worker, wait_for_pollers

__all__ = ["run_baseline"]

POLL_SECONDS = 0.25


async def run_baseline(
    stack: BenchStack, run: str, count: int, concurrency: int, history_sample: int, timeout: float
) -> BaselineResult:
    """One baseline run, labelled ``run`` (``before`` / ``after`` Herald's)."""
    client, task_queue = stack.temporal, f"baseline-{run}"
    worker_context = baseline_worker(stack.mode, stack.settings, stack.settings_file, task_queue)
    async with worker_context as worker:
        await wait_for_pollers(client, task_queue, worker)
        cpu_before = stack.cpu(worker)
        workflow_ids = [f"{task_queue}-{index}" for index in range(count)]
        started = await start_all(client, task_queue, workflow_ids, concurrency)
        closed = await wait_until_closed(client, task_queue, count, timeout, worker)
        cpu = cpu_delta(cpu_before, stack.cpu(worker))
    history = await history_stats(client, workflow_ids, history_sample)
    return BaselineResult(run, throughput(started, closed), history, cpu)


async def start_all(
    client: Client, task_queue: str, workflow_ids: list[str], concurrency: int
) -> float:
    """Start the workflows, ``concurrency`` at once; returns when the first was sent."""
    limit = asyncio.Semaphore(concurrency)
    first_sent = time.time()

    async def start(workflow_id: str) -> None:
        async with limit:
            await client.start_workflow(BaselineWorkflow.run, id=workflow_id, task_queue=task_queue)

    async with asyncio.TaskGroup() as group:
        for workflow_id in workflow_ids:
            group.create_task(start(workflow_id))
    return first_sent


async def wait_until_closed(
    client: Client, task_queue: str, count: int, timeout: float, worker: RunningWorker
) -> list[float]:
    """Until ``count`` workflows of ``task_queue`` have completed; their close times."""
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Completed'"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (done := (await client.count_workflows(query)).count) < count:
        worker.check()
        if loop.time() >= deadline:
            raise RuntimeError(f"only {done} of {count} baseline workflows completed in time")
        await asyncio.sleep(POLL_SECONDS)
    return [
        execution.close_time.timestamp()
        async for execution in client.list_workflows(query)
        if execution.close_time is not None
    ]
