"""`herald dev`: the whole of Herald in one foreground process (DESIGN §5).

It starts what is missing (embedded PostgreSQL, the Temporal dev server), migrates, then runs
the worker, the API and the provider simulator until SIGINT or SIGTERM, and stops them in
order: the servers, the worker, Temporal, PostgreSQL. Everything it keeps (the database, the
Temporal state, the generated API key and provider secret) lives under ``data_dir`` and is
reused on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from herald.api.app import create_app
from herald.core import webhooks
from herald.core.database import migrate
from herald.core.settings import Settings
from herald.core.temporal import connect, register_search_attributes
from herald.devstack.ports import free_port, port_is_free
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.simulator import create_simulator_app
from herald.devstack.temporal import TemporalDevServer, split_address, temporal_answers
from herald.lifecycle import HostedServer, asgi_server, serve, until_signal
from herald.operations.housekeeping import ensure_housekeeping_schedule
from herald.worker import run_worker

__all__ = ["POSTGRES_PORT", "Started", "run_dev", "serve_all"]

POSTGRES_PORT = 5433
"""Where the embedded PostgreSQL listens unless the port is taken (5432 is left to a system
PostgreSQL)."""

UI_PORT_OFFSET = 1000

logger = logging.getLogger(__name__)


@dataclass
class Started:
    """What this run started, for the banner."""

    database: str
    temporal_ui: str


async def run_dev(settings: Settings) -> None:
    """Run everything until SIGINT or SIGTERM, then stop it all and return."""
    await until_signal(_run(settings))


async def _run(settings: Settings) -> None:
    _check_ports_free(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update=_generated_credentials(settings))
    async with AsyncExitStack() as stack:
        if settings.database_url is None:
            postgres = EmbeddedPostgres(settings.data_dir / "postgres", _postgres_port())
            stack.push_async_callback(postgres.stop)
            await postgres.start()
            settings = settings.model_copy(update={"database_url": postgres.url})
            database = f"{postgres.url} (embedded, data in {postgres.data_dir})"
        else:
            database = make_url(settings.database_url).render_as_string(hide_password=True)
        await migrate(settings.require_database_url())
        temporal_ui, ui_url = await _ensure_temporal(settings, stack)
        if ui_url is not None and settings.temporal_ui_url is None:
            settings = settings.model_copy(update={"temporal_ui_url": ui_url})
        await serve_all(settings, Started(database, temporal_ui))


def _check_ports_free(settings: Settings) -> None:
    """Fail before starting anything if a server of ours could not listen."""
    wanted = [("HERALD_API_PORT", settings.api_host, settings.api_port)]
    if settings.provider_url is None:
        wanted.append(("HERALD_SIMULATOR_PORT", settings.simulator_host, settings.simulator_port))
    for variable, host, port in wanted:
        if not port_is_free(host, port):
            raise RuntimeError(f"{host}:{port} is in use; free it or set {variable}")


def _generated_credentials(settings: Settings) -> dict[str, object]:
    """An API key, a provider secret and a gateway secret where the settings have none, kept
    in ``data_dir``; and webhooks to private networks allowed unless set (the endpoints of
    a laptop are on the loopback)."""
    update: dict[str, object] = {}
    if "webhooks_allow_private_networks" not in settings.model_fields_set:
        update["webhooks_allow_private_networks"] = True
    if not settings.api_keys:
        key = _kept(settings.data_dir / "dev-api-key", lambda: secrets.token_urlsafe(32))
        update["api_keys"] = [key]
    if settings.provider_secret is None:
        secret = _kept(settings.data_dir / "provider-secret", webhooks.generate_secret)
        update["provider_secret"] = secret
    if settings.gateway_secret is None:
        update["gateway_secret"] = _kept(
            settings.data_dir / "gateway-secret", webhooks.generate_secret
        )
    return update


def _kept(path: Path, generate: Callable[[], str]) -> str:
    """The value stored at ``path``, or a new one from ``generate`` stored there (mode 0600)."""
    if path.exists() and (value := path.read_text().strip()):
        return value
    value = generate()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    return value


def _postgres_port() -> int:
    if port_is_free("127.0.0.1", POSTGRES_PORT):
        return POSTGRES_PORT
    port = free_port()
    print(f"Port {POSTGRES_PORT} is taken; the embedded PostgreSQL listens on {port}.", flush=True)
    return port


async def _ensure_temporal(settings: Settings, stack: AsyncExitStack) -> tuple[str, str | None]:
    """Use the Temporal server at the configured address, or start a dev server there; then
    register the search attributes and the housekeeping Schedule. Returns what the banner
    says about the Web UI, and the UI's address when this run started it (for the console's
    links)."""
    address, namespace = settings.temporal_address, settings.temporal_namespace
    ui_url = None
    if await temporal_answers(address, namespace, timeout=0):
        ui = settings.temporal_ui_url or f"existing server at {address}"
    else:
        _, port = split_address(address)
        server = TemporalDevServer(
            address,
            db_file=settings.data_dir / "temporal.db",
            ui_port=port + UI_PORT_OFFSET,
            namespace=namespace,
            log_file=settings.data_dir / "temporal.log",
        )
        stack.push_async_callback(server.stop)
        await server.start()
        ui_url = server.ui_url
        ui = ui_url or f"none (server at {address})"
    client = await connect(address, namespace)
    await register_search_attributes(client, namespace)
    await ensure_housekeeping_schedule(client, settings)
    return ui, ui_url


async def serve_all(settings: Settings, started: Started) -> None:
    """Run the API, the simulator (unless a provider is configured) and the worker until
    cancelled or until one of them fails; stop the servers first, then the worker."""
    servers: list[HostedServer] = [
        asgi_server(create_app(settings), settings.api_host, settings.api_port)
    ]
    if settings.provider_url is None:
        simulator = create_simulator_app(settings)
        # Its access log too: uvicorn's access logger is one per process, so silencing it
        # for the simulator would silence the API's.
        servers.append(asgi_server(simulator, settings.simulator_host, settings.simulator_port))
    server_tasks = [asyncio.create_task(serve(server)) for server in servers]
    worker = asyncio.create_task(run_worker(settings))
    everything = [*server_tasks, worker]
    try:
        await _until_started(servers, everything)
        print(_banner(settings, started), flush=True)
        done, _ = await asyncio.wait(everything, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a failure stops everything and is reported
        raise RuntimeError("a part of Herald stopped on its own")
    finally:
        await _cancel_and_wait(server_tasks)
        await _cancel_and_wait([worker])


async def _until_started(servers: list[HostedServer], tasks: list[asyncio.Task[None]]) -> None:
    while not all(server.started for server in servers):
        for task in tasks:
            if task.done():
                task.result()
                raise RuntimeError("a part of Herald stopped while starting")
        await asyncio.sleep(0.05)


async def _cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks still running and wait for them; a failure while stopping is logged
    (a task that had already failed was reported by whoever saw it end)."""
    running = [task for task in tasks if not task.done()]
    for task in running:
        task.cancel()
    for result in await asyncio.gather(*running, return_exceptions=True):
        if isinstance(result, Exception):
            logger.error("error while stopping", exc_info=result)


def _banner(settings: Settings, started: Started) -> str:
    api = settings.api_base_url
    key = settings.api_keys[0]
    provider = settings.provider_url or f"simulator at {settings.simulator_url}"
    body = '{"recipient": "+14155550123", "content": "Hello from Herald"}'
    return f"""
Herald is running. Ctrl-C stops it; state is kept in {settings.data_dir.resolve()}.

  Console          {api}/console
  API docs         {api}/docs
  Temporal Web UI  {started.temporal_ui}
  PostgreSQL       {started.database}
  Provider         {provider}
  API key          {key}

Send a message:

  curl -X POST {api}/v1/messages -H "Authorization: Bearer {key}" \\
    -H 'Content-Type: application/json' \\
    -d '{body}'
"""
