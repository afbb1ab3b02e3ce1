"""Engine, sessions and schema migrations for PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "DATABASE_UNAVAILABLE",
    "SessionFactory",
    "create_engine",
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
)
"""What a database that is down or unreachable raises (a refused or dropped connection)."""


def create_engine(database_url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping`` checks each connection as it leaves the pool (three statements), so a
    request after a database restart does not fail on a dead connection. Callers that retry
    on their own (activities) can skip it."""
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping
    )


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def sessions(
    database_url: str, *, pool_size: int = 10, pre_ping: bool = True
) -> AsyncIterator[SessionFactory]:
    """An engine for the duration of the block, disposed of afterwards."""
    engine = create_engine(database_url, pool_size=pool_size, pre_ping=pre_ping)
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
