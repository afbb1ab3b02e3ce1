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
from pathlib import Path

import httpx

from herald.core.settings import Settings
from herald.devstack.ports import free_port

__all__ = ["herald_environment", "herald_process", "wait_until_answering"]

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


async def wait_until_answering(client: httpx.AsyncClient, timeout: float = 30) -> None:
    """Until the API behind ``client`` answers ``/health/live``."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health/live")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
