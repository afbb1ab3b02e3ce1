"""Running Herald's long-lived parts: ASGI servers that stop when cancelled, and the first
SIGINT or SIGTERM turned into a cancellation with a clean exit.

Every long-lived part (the worker, each server) runs until cancelled and cleans up when it is,
so a process that runs several of them decides the order in which they stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn
import uvloop
from starlette.types import ASGIApp

__all__ = ["HostedServer", "asgi_server", "run", "serve", "until_signal"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion in a new event loop, uvloop's: its socket I/O and
    wake-ups (a database round trip, a Temporal task handed over from the SDK's threads)
    cost less CPU than the standard loop's (README, Performance)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


class HostedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to the process hosting it."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def asgi_server(app: ASGIApp, host: str, port: int) -> HostedServer:
    """A server for ``app``; logging stays as the process configured it (access log on)."""
    return HostedServer(uvicorn.Config(app, host=host, port=port, lifespan="on", log_config=None))


async def serve(server: uvicorn.Server) -> None:
    """Serve until cancelled; cancelling lets open requests finish, then re-raises.

    Raises :class:`RuntimeError` if the server cannot start (port taken, lifespan failed):
    uvicorn reports that with ``sys.exit``, which must not escape a task."""
    running = asyncio.ensure_future(_serve(server))
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        server.should_exit = True
        await running
        raise


async def until_signal(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until it returns, or until SIGINT or SIGTERM: the first one cancels it,
    its cleanup runs, and this returns normally. Later signals are only logged."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if received:
            logger.warning("received %s; already stopping", sig.name)
            return
        received.append(sig)
        logger.info("received %s; stopping", sig.name)
        task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await task
    except asyncio.CancelledError:
        if not received or not task.cancelled():
            raise
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def _serve(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit:
        config = server.config
        raise RuntimeError(
            f"the server for {config.host}:{config.port} could not start (see the log above)"
        ) from None
