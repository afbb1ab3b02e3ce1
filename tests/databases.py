"""Databases of a test's own in the session's PostgreSQL, for tests whose numbers or traffic
must not meet the other tests' rows, and a lock on Herald's messages held from outside."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.database import migrate, sessions
from herald.devstack.postgres import EmbeddedPostgres

__all__ = ["fresh_database", "messages_locked", "run_as_admin"]


async def run_as_admin(postgres: EmbeddedPostgres, statement: str) -> None:
    """A statement outside a transaction (as ``CREATE DATABASE`` must be)."""
    engine = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(postgres: EmbeddedPostgres) -> AsyncIterator[str]:
    """A migrated database of its own for the block; its URL."""
    name = f"test_{uuid.uuid4().hex}"
    await run_as_admin(postgres, f"CREATE DATABASE {name}")
    url = make_url(postgres.url).set(database=name).render_as_string(hide_password=False)
    await migrate(url)
    try:
        yield url
    finally:
        await run_as_admin(postgres, f"DROP DATABASE {name} WITH (FORCE)")


@asynccontextmanager
async def messages_locked(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session holding ``messages`` in ``ACCESS EXCLUSIVE`` mode, as a migration would,
    until it rolls back or the block ends."""
    async with sessions(database_url) as factory, factory() as session:
        connection = await session.connection()
        await connection.exec_driver_sql("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
        yield session
