"""The servers the benchmark drives, started in a work directory and stopped in reverse order
at the end, on failure or on Ctrl-C: an embedded PostgreSQL (migrated, with
``pg_stat_statements``), a Temporal dev server on a file database (the DESIGN §9 flags), and
Herald's API and the provider simulator in this process; for the naive baseline, its ack
receiver and a simulator of its own, in this process too. Each run starts its own worker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp
from temporalio.client import Client

from bench.arrivals import ArrivalRecorder
from bench.cpu import cpu_by_part
from bench.database import bench_engine, enable_statement_stats
from bench.memory import memory_by_part
from bench.naive_api import create_naive_api
from bench.stats import Environment, MemoryReading
from bench.workers import RunningWorker, WorkerMode, write_settings
from herald.api.app import create_app
from herald.core import webhooks
from herald.core.database import migrate, sessions
from herald.core.models import ApiKeyCreate, TenantCreate
from herald.core.scopes import Scope
from herald.core.settings import Settings
from herald.core.temporal import connect, register_search_attributes
from herald.devstack.ports import free_port
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.simulator import create_simulator_app
from herald.devstack.temporal import TemporalDevServer
from herald.lifecycle import asgi_server, serve
from herald.operations.keys import create_key
from herald.operations.tenants import create_tenant

__all__ = [
    "BenchStack",
    "NaiveGateway",
    "api_client",
    "environment",
    "naive_gateway",
    "running_stack",
]

HOST = "127.0.0.1"
SUBMIT_RATE = 1_000_000
"""The tenant ``bench``'s rate limit and burst: high enough that no submit or batch of the
benchmark is refused with 429 (the limiter's statement still runs for every one)."""


@dataclass
class BenchStack:
    """The running servers: ``database`` is the benchmark's own engine, ``arrivals`` the
    simulator's record of first delivery attempts, ``mode`` how runs start their workers."""

    mode: WorkerMode
    settings: Settings
    settings_file: Path
    temporal: Client
    database: AsyncEngine
    arrivals: ArrivalRecorder
    submitter_key: str
    """A ``messages:write`` key of the tenant ``bench``: submits take the path a tenant's do
    (key lookup, the tenant's shared rate limit), not the bootstrap admin key's."""

    def cpu(self, *workers: RunningWorker) -> dict[str, float]:
        """CPU seconds so far by part of the stack, the ``workers`` included (see
        :mod:`bench.cpu`)."""
        return cpu_by_part(*parts(workers))

    def memory(self, *workers: RunningWorker) -> dict[str, MemoryReading]:
        """Memory now by part of the stack, the ``workers`` included (see
        :mod:`bench.memory`)."""
        return memory_by_part(*parts(workers))


def parts(workers: Sequence[RunningWorker]) -> tuple[str, dict[int, str]]:
    """The name of this process's part (with the inline ``workers``), and the names of the
    worker processes by pid."""
    own = "benchmark process: API, simulator, load"
    inline = [worker.name for worker in workers if worker.pid is None]
    processes = {worker.pid: worker.name for worker in workers if worker.pid is not None}
    return ", ".join([own, *inline]), processes


def bench_settings(
    database_url: str, temporal: TemporalDevServer, workdir: Path, **overrides: Any
) -> Settings:
    """Fresh credentials and ports, deliveries to the simulator, which answers and acks at
    once, unless ``overrides`` say otherwise. Settings not named here come from ``HERALD_*``
    variables or the defaults."""
    chosen: dict[str, Any] = dict(
        database_url=database_url,
        temporal_address=temporal.address,
        temporal_namespace=temporal.namespace,
        task_queue="herald-bench",
        api_keys=[secrets.token_urlsafe(32)],
        api_host=HOST,
        api_port=free_port(),
        data_dir=workdir,
        provider_url=None,
        provider_secret=webhooks.generate_secret(),
        gateway_secret=webhooks.generate_secret(),
        simulator_port=free_port(),
        worker_metrics_port=None,  # several workers share these settings: no port each
        simulator_ack_url=None,
        simulator_latency_seconds=0,
        simulator_ack_delay_seconds=0,
        simulator_transient_failure_rate=0,
        simulator_permanent_failure_rate=0,
    )
    return Settings(_env_file=None, **(chosen | overrides))


@asynccontextmanager
async def running_stack(
    workdir: Path, mode: WorkerMode, **overrides: Any
) -> AsyncIterator[BenchStack]:
    """The stack, with ``overrides`` of :func:`bench_settings`."""
    async with AsyncExitStack() as stack:
        postgres = EmbeddedPostgres(workdir / "postgres", free_port())
        stack.push_async_callback(postgres.stop)
        await postgres.start()
        await enable_statement_stats(postgres)
        await migrate(postgres.url)
        temporal = TemporalDevServer(
            f"{HOST}:{free_port()}",
            db_file=workdir / "temporal.db",
            ui_port=None,
            log_file=workdir / "temporal.log",
        )
        stack.push_async_callback(temporal.stop)
        await temporal.start()
        client = await connect(temporal.address, temporal.namespace)
        await register_search_attributes(client, temporal.namespace)
        settings = bench_settings(postgres.url, temporal, workdir, **overrides)
        settings_file = write_settings(settings, workdir / "settings.json")
        database = bench_engine(postgres.url)
        stack.push_async_callback(database.dispose)
        arrivals = ArrivalRecorder(create_simulator_app(settings))
        await stack.enter_async_context(hosted(create_app(settings), HOST, settings.api_port))
        await stack.enter_async_context(hosted(arrivals, HOST, settings.simulator_port))
        key = await submitter_key(postgres.url)
        yield BenchStack(mode, settings, settings_file, client, database, arrivals, key)


async def submitter_key(database_url: str) -> str:
    """A tenant ``bench`` and a ``messages:write`` key of it."""
    async with sessions(database_url) as factory, factory() as session:
        tenant = TenantCreate(
            id="bench",
            name="Benchmark",
            rate_limit_per_second=SUBMIT_RATE,
            rate_limit_burst=SUBMIT_RATE,
        )
        await create_tenant(session, tenant)
        created = await create_key(
            session, ApiKeyCreate(tenant_id="bench", name="load", scopes=[Scope.MESSAGES_WRITE])
        )
    return created.key


@dataclass(frozen=True)
class NaiveGateway:
    """The naive baseline's servers: ``settings`` are the stack's with the port of its own
    simulator and an ack URL pointing at its ack receiver (its worker reads them from
    ``settings_file``); ``arrivals`` that simulator's first delivery attempts."""

    settings: Settings
    settings_file: Path
    arrivals: ArrivalRecorder


@asynccontextmanager
async def naive_gateway(stack: BenchStack) -> AsyncIterator[NaiveGateway]:
    """The naive baseline's ack receiver and simulator, in this process, for the block."""
    api_port = free_port()
    settings = stack.settings.model_copy(
        update={"simulator_port": free_port(), "simulator_ack_url": f"http://{HOST}:{api_port}"}
    )
    settings_file = write_settings(settings, stack.settings_file.with_name("naive-settings.json"))
    arrivals = ArrivalRecorder(create_simulator_app(settings))
    async with (
        hosted(create_naive_api(stack.temporal), HOST, api_port),
        hosted(arrivals, HOST, settings.simulator_port),
    ):
        yield NaiveGateway(settings, settings_file, arrivals)


@asynccontextmanager
async def api_client(stack: BenchStack, concurrency: int) -> AsyncIterator[httpx.AsyncClient]:
    """A client of Herald's API with the submitter's key, ``concurrency`` connections."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=stack.settings.api_base_url,
        headers={"Authorization": f"Bearer {stack.submitter_key}"},
        limits=limits,
        timeout=120,
    ) as client:
        yield client


def environment(stack: BenchStack, concurrency: int, worker_mode: WorkerMode) -> Environment:
    return Environment(
        concurrency=concurrency,
        worker_mode=worker_mode,
        cpu_cores=os.cpu_count() or 1,
        max_concurrent_deliveries=stack.settings.max_concurrent_deliveries,
        python=platform.python_version(),
        temporalio=version("temporalio"),
        platform=platform.platform(),
    )


@asynccontextmanager
async def hosted(app: ASGIApp, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``app`` for the block (Herald's :func:`herald.lifecycle.serve`)."""
    server = asgi_server(app, host, port)
    task = asyncio.create_task(serve(server))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the server on {host}:{port} stopped while starting")
            await asyncio.sleep(0.05)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
