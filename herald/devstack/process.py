"""Child server processes: started in a session of their own with their output in a log file,
stopped with a signal and a SIGKILL fallback, and (on Linux) stopped too if Herald dies.

A session of their own keeps Ctrl-C in the terminal away from them, so that `herald dev`
decides the shutdown order. The parent-death signal covers the case where Herald itself is
killed (SIGKILL, OOM): the servers then shut down instead of lingering on their ports. Linux
delivers it when the *thread* that started the child exits, so start servers from the thread
that runs the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import signal
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["ChildServer", "log_tail", "run", "spawn", "stop_process"]

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.05


def spawn(
    argv: Sequence[str],
    log_file: Path,
    *,
    death_signal: signal.Signals,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, appending its stdout and stderr to ``log_file``.

    ``death_signal`` is what the child receives if this process dies first (Linux only).
    ``user`` runs it as that system user (needs root).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_death_signal_setter(death_signal),
            **_identity(user),
        )


async def run(argv: Sequence[str], *, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (in a thread) with its output captured; raises nothing on a
    non-zero exit, so the caller can word the error."""

    def run_to_completion() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            **_identity(user),
        )

    return await asyncio.to_thread(run_to_completion)


async def stop_process(
    process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float
) -> int:
    """Send ``sig``, wait up to ``timeout`` seconds, then SIGKILL the child's whole process
    group; returns the exit code. Does nothing more than reap a child that already exited."""
    if process.poll() is None:
        process.send_signal(sig)
        if not await _exited(process, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await _exited(process, timeout)
    return process.wait()


def log_tail(log_file: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        with log_file.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            text = log.read().decode(errors="replace")
    except OSError as error:
        return f"(no log at {log_file}: {error})"
    return "\n".join(text.splitlines()[-lines:])


async def _exited(process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while process.poll() is None:
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    return True


def _identity(user: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that run the child as ``user`` with only its own group."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _death_signal_setter(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send ``sig`` to the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    number = int(sig)

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, number)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), number)

    return set_death_signal


class ChildServer(ABC):
    """A server we run as a child process: ``start``/``stop``, or ``async with``."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
