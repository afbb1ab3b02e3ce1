"""The benchmark's look into PostgreSQL: message rows, and every statement Herald runs
(``pg_stat_statements``, which the embedded server loads for the benchmark).

The benchmark's own queries run as a role of their own (``bench``) and without transactions,
so the statement counts are Herald's alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from herald.devstack.postgres import EmbeddedPostgres

__all__ = [
    "DeliveredRow",
    "StatementCount",
    "bench_engine",
    "delivered_rows",
    "enable_statement_stats",
    "reset_statement_stats",
    "statement_counts",
    "status_counts",
]

ROLE = "bench"


@dataclass(frozen=True)
class DeliveredRow:
    id: uuid.UUID
    created_at: datetime
    delivered_at: datetime


@dataclass(frozen=True)
class StatementCount:
    """One normalized statement: how often it ran and how long it took in the server."""

    query: str
    calls: int
    total_ms: float


def bench_engine(url: str) -> AsyncEngine:
    """One connection as the ``bench`` role, in autocommit mode (no BEGIN/COMMIT)."""
    return _autocommit_engine(make_url(url).set(username=ROLE))


def _autocommit_engine(url: URL) -> AsyncEngine:
    return create_async_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)


async def enable_statement_stats(postgres: EmbeddedPostgres) -> None:
    """Load ``pg_stat_statements`` (a restart), create it in the server's database, and
    create the ``bench`` role."""
    admin = _autocommit_engine(make_url(postgres.url).set(database="postgres"))
    try:
        async with admin.connect() as connection:
            await connection.execute(
                text("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            )
            await connection.execute(text(f"CREATE ROLE {ROLE} LOGIN SUPERUSER"))
    finally:
        await admin.dispose()
    await postgres.stop()
    await postgres.start()
    engine = _autocommit_engine(make_url(postgres.url))
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
    finally:
        await engine.dispose()


async def status_counts(engine: AsyncEngine, since: datetime) -> dict[str, int]:
    """How many messages submitted since ``since`` are in each status."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT status, count(*) FROM messages WHERE created_at >= :since GROUP BY status"
            ),
            {"since": since},
        )
        return {status: count for status, count in rows.tuples()}


async def delivered_rows(engine: AsyncEngine, since: datetime) -> list[DeliveredRow]:
    """The messages submitted since ``since`` and delivered."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT id, created_at, delivered_at FROM messages "
                "WHERE status = 'delivered' AND created_at >= :since"
            ),
            {"since": since},
        )
        return [DeliveredRow(*row) for row in rows.tuples()]


async def reset_statement_stats(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_stat_statements_reset()"))


async def statement_counts(engine: AsyncEngine) -> list[StatementCount]:
    """Herald's statements in this database since the last reset, most frequent first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT query, calls, total_exec_time FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND userid <> (SELECT oid FROM pg_roles WHERE rolname = :role) "
                "ORDER BY calls DESC"
            ),
            {"role": ROLE},
        )
        return [StatementCount(query, calls, total) for query, calls, total in rows.tuples()]
