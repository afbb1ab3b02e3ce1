"""Herald's console script run as separate processes (``herald worker``, ``herald api``),
configured by the environment from a test's settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from herald.core.settings import Settings
from herald.devstack.ports import free_port

__all__ = [
    "Running",
    "herald_environment",
    "herald_process",
    "herald_processes",
    "wait_until_answering",
]

HERALD = Path(sys.executable).parent / "herald"
"""The console script installed beside this Python."""


def herald_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The settings as ``HERALD_*`` variables (no other ``HERALD_*`` of this process), each
    process with a metrics port of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HERALD_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        text = ",".join(value) if isinstance(value, list) else str(value)
        env[f"HERALD_{name.upper()}"] = text
    env["HERALD_WORKER_METRICS_PORT"] = str(free_port())
    return env | overrides


@contextlib.contextmanager
def herald_process(
    command: str, settings: Settings, **overrides: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``herald <command>`` for the block; SIGTERM (and a wait) at its end."""
    process = subprocess.Popen(
        [str(HERALD), command], env=herald_environment(settings, **overrides)
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@dataclass(frozen=True)
class Running:
    """One of :func:`herald_processes`; ``url`` is the API's (``herald api`` only)."""

    process: subprocess.Popen[bytes]
    url: str | None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as when a host dies."""
        self.process.kill()
        self.process.wait(timeout=30)


@contextlib.contextmanager
def herald_processes(command: str, settings: Settings, count: int) -> Iterator[list[Running]]:
    """``count`` ``herald <command>`` processes on the settings' database and Temporal; each
    API on a port of its own."""
    with contextlib.ExitStack() as stack:
        running = []
        for _ in range(count):
            port = str(free_port())
            process = stack.enter_context(herald_process(command, settings, HERALD_API_PORT=port))
            url = f"http://{settings.api_host}:{port}" if command == "api" else None
            running.append(Running(process, url))
        yield running


async def wait_until_answering(client: httpx.AsyncClient, timeout: float = 30) -> None:
    """Until the API behind ``client`` answers ``/health/live``."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health/live")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
