"""Engine, sessions and schema migrations for PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, Pool, PoolProxiedConnection
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "DATABASE_UNAVAILABLE",
    "IDLE_PING_SECONDS",
    "POOL_WAIT_SECONDS",
    "PoolTimeout",
    "SessionFactory",
    "autocommit",
    "create_engine",
    "engine_of",
    "migrate",
    "session_factory",
    "sessions",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
    PoolTimeout,
)
"""What a database that is down, unreachable or too busy raises (a refused or dropped
connection, or no pooled connection free within ``pool_wait``)."""

POOL_WAIT_SECONDS = 10.0
"""How long a caller waits for a pooled connection when all are busy."""


IDLE_PING_SECONDS = 1.0
"""A pooled connection idle for longer than this is pinged before it is used."""
_CHECKED_IN_AT = "herald_checked_in_at"


def create_engine(
    database_url: str,
    *,
    pool_size: int = 20,
    pool_wait: float = POOL_WAIT_SECONDS,
    ping_after_idle: float | None = IDLE_PING_SECONDS,
) -> AsyncEngine:
    """At most ``pool_size`` connections, each opened once and kept: when all are busy a
    caller waits for one, up to ``pool_wait`` seconds (then ``PoolTimeout``). (Connections
    opened beyond the pool for a burst were closed again on their way back, so a sustained
    load opened and closed one for nearly every request: a connection set-up and a new
    server process each time.)

    ``ping_after_idle``: ping a connection leaving the pool after that many idle seconds,
    so that the first request after a database restart does not fail on a dead connection.
    ``None`` never pings: for callers that retry on their own (activities)."""
    engine = create_async_engine(
        database_url, pool_size=pool_size, max_overflow=0, pool_timeout=pool_wait
    )
    if ping_after_idle is not None:
        _ping_when_idle(engine.sync_engine.pool, ping_after_idle)
    return engine


def _ping_when_idle(pool: Pool, idle_seconds: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for idle connections only.

    ``pool_pre_ping`` pings on every checkout, three statements (``BEGIN``, ``SELECT``,
    ``ROLLBACK``) in front of each request's own. A busy process takes its connections back
    within milliseconds, so it pays nothing here; a connection left idle past
    ``idle_seconds`` (as a database restart leaves them) is pinged, and a dead one replaced
    by a fresh one (the pool retries a checkout that raises ``DisconnectionError``). A
    request that meets a dead connection anyway (a restart under load) answers 503 with
    nothing stored, and SQLAlchemy then discards the rest of the pool's old connections.
    """

    @event.listens_for(pool, "checkin")
    def _note_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as err:
            raise DisconnectionError("an idle pooled connection is dead") from err


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


_AUTOCOMMIT: WeakKeyDictionary[SessionFactory, AsyncEngine] = WeakKeyDictionary()


def engine_of(sessions: SessionFactory) -> AsyncEngine:
    """The engine ``sessions`` are bound to (its pool)."""
    engine: AsyncEngine = sessions.kw["bind"]
    return engine


def autocommit(sessions: SessionFactory) -> AsyncEngine:
    """The engine behind ``sessions``, in autocommit: each statement is a transaction of its
    own, without the ``BEGIN`` and ``COMMIT`` (or ``ROLLBACK``) round trips a session spends
    around it. For work that is one statement, or statements that need no common snapshot.
    Made once per factory (a request's path asks for it)."""
    engine = _AUTOCOMMIT.get(sessions)
    if engine is None:
        bound = engine_of(sessions)
        engine = _AUTOCOMMIT[sessions] = bound.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@asynccontextmanager
async def sessions(
    database_url: str,
    *,
    pool_size: int = 20,
    pool_wait: float = POOL_WAIT_SECONDS,
    ping_after_idle: float | None = IDLE_PING_SECONDS,
) -> AsyncIterator[SessionFactory]:
    """An engine for the duration of the block, disposed of afterwards."""
    engine = create_engine(
        database_url, pool_size=pool_size, pool_wait=pool_wait, ping_after_idle=ping_after_idle
    )
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


async def migrate(database_url: str) -> None:
    """Upgrade the schema to the newest revision (Alembic runs its own event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
