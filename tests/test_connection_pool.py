"""Herald's engines keep their connections: a sustained load beyond the pool waits for one
instead of opening (and closing) a connection, and a server process, per request; a request
that waits too long is answered 503."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from herald.core.database import create_engine
from herald.core.settings import Settings
from herald.devstack.postgres import EmbeddedPostgres
from tests.databases import messages_locked
from tests.stack import serving_api
from tests.test_ordering import unique_recipient

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


@pytest.mark.parametrize(
    "settings_overrides", [{"database_pool_size": 1, "database_pool_wait_seconds": 1}]
)
async def test_a_request_that_finds_no_free_connection_in_time_is_answered_503(
    settings: Settings,
) -> None:
    """A lock held outside Herald (a migration, an operator's transaction) keeps the API's one
    connection busy: the requests that wait for it past ``HERALD_DATABASE_POOL_WAIT_SECONDS``
    are answered 503 problem+json with ``Retry-After`` and store nothing, instead of a 500
    (or a wait as long as the lock's); once it is released, submits go through again."""
    recipients = [unique_recipient() for _ in range(3)]
    async with (
        serving_api(settings) as api,
        messages_locked(settings.require_database_url()) as locker,
    ):
        submits = [
            asyncio.create_task(
                api.post("/v1/messages", json={"recipient": recipient, "content": "blocked"})
            )
            for recipient in recipients
        ]
        await asyncio.sleep(3)  # past the pool wait of each request behind the first
        await locker.rollback()
        answers = await asyncio.gather(*submits)
        refused = [a for a in answers if a.status_code == 503]
        assert refused, [a.text for a in answers]
        assert {a.status_code for a in answers} <= {202, 503}
        for answer in refused:
            assert answer.headers["content-type"] == "application/problem+json"
            assert int(answer.headers["retry-after"]) > 0
            assert "the database is busy" in answer.json()["detail"]
        for recipient, answer in zip(recipients, answers, strict=True):
            listed = await api.get("/v1/messages", params={"recipient": recipient})
            assert listed.json()["total"] == (1 if answer.status_code == 202 else 0)

        after = await api.post("/v1/messages", json={"recipient": recipients[0], "content": "ok"})
        assert after.status_code == 202, after.text
