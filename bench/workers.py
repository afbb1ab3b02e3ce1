"""Herald's worker and the baselines', run the same way for a fair comparison: either as tasks
of the benchmark's event loop (``inline``) or each in a process of its own (``process``).

A worker process is this module: ``python -m bench.workers herald SETTINGS_JSON`` runs
:func:`herald.worker.run_worker` (what ``herald worker`` runs), ``python -m bench.workers
baseline SETTINGS_JSON TASK_QUEUE`` the bare baseline's and ``python -m bench.workers naive
SETTINGS_JSON TASK_QUEUE`` the naive one's (which delivers to the simulator of those settings);
all stop cleanly on SIGTERM. The settings travel as a JSON file, so the process sees exactly
the benchmark's settings and no ``.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline_workflow import BaselineWorkflow, noop
from bench.naive_workflow import NaiveActivities, NaiveWorkflow
from herald.core.logs import configure_logging
from herald.core.settings import Settings
from herald.core.temporal import connect
from herald.devstack.process import log_tail, spawn, stop_process
from herald.lifecycle import run, until_signal
from herald.worker import run_worker, workflow_runner

__all__ = [
    "BenchWorkerKind",
    "RunningWorker",
    "WorkerMode",
    "bench_worker",
    "herald_workers",
    "run_bench_worker",
    "wait_for_pollers",
    "write_settings",
]

WorkerMode = Literal["process", "inline"]
BenchWorkerKind = Literal["baseline", "naive"]
WORKER_NAMES: dict[BenchWorkerKind, str] = {"baseline": "bare worker", "naive": "naive worker"}
WorkerMain = Callable[[], Coroutine[Any, Any, None]]

POLLER_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class RunningWorker:
    """A worker that is running: a task of this event loop or a process (``pid``)."""

    name: str
    task: asyncio.Task[None] | None = None
    process: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def check(self) -> None:
        """Raise if the worker has stopped."""
        if self.task is not None and self.task.done():
            self.task.result()
            raise RuntimeError(f"the {self.name} stopped on its own")
        if self.process is not None and (code := self.process.poll()) is not None:
            tail = log_tail(self.log_file) if self.log_file else ""
            raise RuntimeError(f"the {self.name} exited with code {code}; its log ends:\n{tail}")


def write_settings(settings: Settings, path: Path) -> Path:
    """The settings as JSON (readable by the owner only: they hold the API key and secret)."""
    path.touch(mode=0o600)
    path.write_text(settings.model_dump_json())
    return path


def read_settings(path: Path) -> Settings:
    return Settings(_env_file=None, **json.loads(path.read_text()))


async def run_bench_worker(kind: BenchWorkerKind, settings: Settings, task_queue: str) -> None:
    """A baseline's worker, with Herald's activity concurrency; runs until cancelled. The
    naive one delivers to the simulator of ``settings`` with one plain httpx client sized to
    that concurrency (what Herald had before its ``ShardedClient``)."""
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    async with contextlib.AsyncExitStack() as resources:
        workflows: list[type] = [BaselineWorkflow]
        activities: list[Callable[..., Any]] = [noop]
        if kind == "naive":
            limit = settings.max_concurrent_deliveries
            limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
            http = await resources.enter_async_context(httpx.AsyncClient(limits=limits))
            naive = NaiveActivities(
                http, settings.simulator_url, settings.require_provider_secret()
            )
            workflows, activities = [NaiveWorkflow], [naive.deliver]
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=workflows,
            activities=activities,
            max_concurrent_activities=settings.max_concurrent_deliveries,
            # Herald's runner (unsandboxed unless HERALD_WORKFLOW_SANDBOX): like for like.
            workflow_runner=workflow_runner(settings, "bench"),
        )
        await worker.run()


@asynccontextmanager
async def herald_workers(
    mode: WorkerMode, settings: Settings, settings_file: Path, count: int = 1
) -> AsyncIterator[list[RunningWorker]]:
    """``count`` Herald workers for the block (one, inline)."""
    if mode == "inline":
        if count != 1:
            raise ValueError("inline runs one worker")
        async with _inline("Herald worker", lambda: run_worker(settings)) as worker:
            yield [worker]
        return
    async with contextlib.AsyncExitStack() as stack:
        workers = []
        for number in range(1, count + 1):
            name = "Herald worker" if count == 1 else f"Herald worker {number}"
            log_file = settings_file.with_name(f"herald-worker-{number}.log")
            args = ["herald", str(settings_file)]
            workers.append(await stack.enter_async_context(_process(name, args, log_file)))
        yield workers


def bench_worker(
    kind: BenchWorkerKind, mode: WorkerMode, settings_file: Path, task_queue: str
) -> contextlib.AbstractAsyncContextManager[RunningWorker]:
    """A baseline's worker on ``task_queue`` for the block, with the settings of
    ``settings_file``."""
    name = WORKER_NAMES[kind]
    if mode == "inline":
        settings = read_settings(settings_file)
        return _inline(name, lambda: run_bench_worker(kind, settings, task_queue))
    log_file = settings_file.with_name(f"{task_queue}.log")
    return _process(name, [kind, str(settings_file), task_queue], log_file)


async def wait_for_pollers(client: Client, task_queue: str, worker: RunningWorker) -> None:
    """Until the worker polls ``task_queue`` for workflow and activity tasks, so that its
    start-up is not counted in a measurement. A worker process is known by its identity
    (``<pid>@<host>``): a worker of an earlier run stays listed for a while."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLLER_TIMEOUT_SECONDS
    identity = None if worker.pid is None else f"{worker.pid}@"
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        request = DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=kind,
        )
        while True:
            pollers = (await client.workflow_service.describe_task_queue(request)).pollers
            if any(identity is None or p.identity.startswith(identity) for p in pollers):
                break
            worker.check()
            if loop.time() >= deadline:
                raise RuntimeError(f"the {worker.name} did not poll {task_queue!r} in time")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def _inline(name: str, main: WorkerMain) -> AsyncIterator[RunningWorker]:
    task = asyncio.create_task(main())
    try:
        yield RunningWorker(name, task=task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def _process(name: str, args: list[str], log_file: Path) -> AsyncIterator[RunningWorker]:
    argv = [sys.executable, "-m", "bench.workers", *args]
    process = spawn(argv, log_file, death_signal=signal.SIGTERM)
    try:
        yield RunningWorker(name, process=process, log_file=log_file)
    finally:
        await stop_process(process, signal.SIGTERM, STOP_TIMEOUT_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a worker of the benchmark until SIGTERM.")
    parser.add_argument("kind", choices=["herald", *get_args(BenchWorkerKind)])
    parser.add_argument("settings_file", type=Path)
    parser.add_argument("task_queue", nargs="?", help="a baseline's task queue")
    args = parser.parse_args()
    settings = read_settings(args.settings_file)
    configure_logging()
    if args.kind == "herald":
        run(until_signal(run_worker(settings)))  # as `herald worker` runs it
    elif args.task_queue:
        asyncio.run(until_signal(run_bench_worker(args.kind, settings, args.task_queue)))
    else:
        parser.error(f"the {args.kind} worker needs a task queue")


if __name__ == "__main__":
    main()
