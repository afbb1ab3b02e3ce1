"""Herald's engines keep their connections: a sustained load beyond the pool waits for one
instead of opening (and closing) a connection, and a server process, per request."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from herald.core.database import create_engine
from herald.devstack.postgres import EmbeddedPostgres

POOL_SIZE = 3


async def test_bursts_beyond_the_pool_reuse_its_connections(
    postgres_server: EmbeddedPostgres,
) -> None:
    engine = create_engine(postgres_server.url, pool_size=POOL_SIZE, ping_after_idle=None)

    async def backend() -> int:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_sleep(0.05)"))
            pid: int = await connection.scalar(text("SELECT pg_backend_pid()"))
            return pid

    try:
        backends: set[int] = set()
        for _ in range(3):
            backends |= set(await asyncio.gather(*(backend() for _ in range(4 * POOL_SIZE))))
    finally:
        await engine.dispose()
    assert len(backends) == POOL_SIZE
