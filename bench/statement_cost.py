"""``python -m bench.statement_cost``: the client CPU of one statement, Herald's way against
bare asyncpg (not a test).

On an embedded PostgreSQL of its own, migrated, with one message, it reads that message's
standing many times, one read after the other: the prebuilt statement through a SQLAlchemy
connection from the pool (as Herald's statements off the hot path run), as the ack route
reads it (:func:`herald.operations.actions.standings_of`, a
:class:`herald.core.hot_statements.HotStatement`: the same pool, the driver's connection),
then the same query straight on the asyncpg connection under one of the pool's. Process CPU
time, so what PostgreSQL spends is not counted.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from herald import lifecycle
from herald.core.database import autocommit, create_engine, migrate
from herald.core.models import Message
from herald.devstack.ports import free_port
from herald.devstack.postgres import EmbeddedPostgres
from herald.operations.actions import STANDINGS_QUERY, standings_of

__all__ = ["main"]

READS = 3000
WARM_UP = 300
BARE_QUERY = "SELECT id, status, accepted_at FROM messages WHERE id = $1"


async def cpu_microseconds(read: Callable[[], Awaitable[object]]) -> float:
    """Process CPU a call of ``read``, after a warm-up."""
    for _ in range(WARM_UP):
        await read()
    started = time.process_time()
    for _ in range(READS):
        await read()
    return (time.process_time() - started) / READS * 1e6


async def measure(url: str) -> dict[str, float]:
    await migrate(url)
    engine = create_engine(url)
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    message_id = uuid.uuid4()
    async with sessions() as session:
        session.add(
            Message(
                id=message_id, recipient="+14155550100", content="x", idempotency_key="statement"
            )
        )
        await session.commit()

    async def through_sqlalchemy() -> object:
        async with autocommit(sessions).connect() as connection:
            return (await connection.execute(STANDINGS_QUERY, {"ids": [message_id]})).all()

    try:
        sqlalchemy = await cpu_microseconds(through_sqlalchemy)
        ack_route = await cpu_microseconds(lambda: standings_of(sessions, [message_id]))
        async with engine.connect() as held:
            bare = (await held.get_raw_connection()).driver_connection
            assert bare is not None
            asyncpg = await cpu_microseconds(lambda: bare.fetchrow(BARE_QUERY, message_id))
    finally:
        await engine.dispose()
    return {
        "through a SQLAlchemy connection from the pool": sqlalchemy,
        "as the ack route reads (the pool, the driver)": ack_route,
        "bare asyncpg, one connection held": asyncpg,
    }


async def run() -> None:
    with tempfile.TemporaryDirectory(prefix="herald-statement-") as workdir:
        async with EmbeddedPostgres(Path(workdir) / "postgres", free_port()) as postgres:
            figures = await measure(postgres.url)
    print(f"Client CPU of one read of a message's standing, mean of {READS}:")
    for name, microseconds in figures.items():
        print(f"  {name:<52}{microseconds:>8.1f} µs")


def main() -> None:
    lifecycle.run(run())


if __name__ == "__main__":
    main()
