"""Hot statements run on the driver bind and read values as SQLAlchemy does, and a driver
error is the database error every caller already handles: a lost connection leaves the
pool with those opened before it, a failed statement does not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import ARRAY, Integer, String, Uuid, any_, bindparam, cast, func, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from herald.core.contract import TERMINAL_STATUSES, MessageStatus, Priority
from herald.core.database import DATABASE_UNAVAILABLE, create_engine, session_factory
from herald.core.hot_statements import HotStatement
from herald.core.models import Message, utcnow
from herald.devstack.postgres import EmbeddedPostgres
from tests.databases import run_as_admin

BACKEND = HotStatement(select(func.pg_backend_pid()))


@pytest.fixture
async def one_connection(postgres_server: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    """An engine of one connection, never pinged: a dead one is met at once."""
    engine = create_engine(postgres_server.url, pool_size=1, ping_after_idle=None)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_values_are_bound_and_read_as_through_sqlalchemy(
    one_connection: AsyncEngine,
) -> None:
    sessions = session_factory(one_connection)
    open_id, finished_id = uuid.uuid4(), uuid.uuid4()
    async with sessions() as session:
        for message_id, status in (
            (open_id, MessageStatus.QUEUED),
            (finished_id, MessageStatus.DELIVERED),
        ):
            session.add(
                Message(
                    id=message_id,
                    recipient="+14155550100",
                    content="hot",
                    idempotency_key=str(message_id),
                    status=status,
                    priority=Priority.HIGH,
                )
            )
        await session.commit()
    send = HotStatement(
        update(Message)
        .where(
            col(Message.id) == any_(bindparam("ids", type_=ARRAY(Uuid))),
            col(Message.status).not_in(TERMINAL_STATUSES),  # a literal list, rendered once
        )
        .values(status=bindparam("status"), updated_at=bindparam("now"))
        .returning(col(Message.id), col(Message.status), col(Message.priority))
    )
    now = utcnow()
    values = {"ids": [open_id, finished_id], "status": MessageStatus.SENDING, "now": now}

    rows = await send.fetch(one_connection, values)

    assert rows == [(open_id, MessageStatus.SENDING, Priority.HIGH)]
    (_, status, priority), *_ = rows
    assert type(status) is MessageStatus and type(priority) is Priority
    async with sessions() as session:
        stored = (
            await session.exec(
                select(col(Message.id), col(Message.status), col(Message.updated_at)).where(
                    col(Message.id).in_([open_id, finished_id])
                )
            )
        ).all()
    by_id = {message_id: (status, updated_at) for message_id, status, updated_at in stored}
    assert by_id[open_id] == (MessageStatus.SENDING, now)
    assert by_id[finished_id][0] == MessageStatus.DELIVERED


async def test_a_value_not_given_is_refused_before_it_reaches_the_database(
    one_connection: AsyncEngine,
) -> None:
    read = HotStatement(select(cast(bindparam("number"), Integer)))
    with pytest.raises(KeyError, match="number"):
        await read.fetch(one_connection, {})
    assert await read.fetch(one_connection, {"number": 7}) == [(7,)]


async def test_a_lost_connection_is_a_database_error_and_leaves_the_pool(
    postgres_server: EmbeddedPostgres, one_connection: AsyncEngine
) -> None:
    [(backend,)] = await BACKEND.fetch(one_connection, {})
    await run_as_admin(postgres_server, f"SELECT pg_terminate_backend({backend})")
    await asyncio.sleep(0.2)  # the server has closed the socket

    with pytest.raises(DATABASE_UNAVAILABLE):
        await BACKEND.fetch(one_connection, {})

    [(replacement,)] = await BACKEND.fetch(one_connection, {})
    assert replacement != backend


async def test_a_lost_connection_retires_the_connections_opened_before_it(
    postgres_server: EmbeddedPostgres,
) -> None:
    """A restart kills every pooled connection; only the first request to meet one fails,
    even where no idle ping would catch the others."""
    engine = create_engine(postgres_server.url, pool_size=2, ping_after_idle=None)
    held = HotStatement(select(func.pg_backend_pid(), func.pg_sleep(0.1)))
    try:
        both = await asyncio.gather(*(held.fetch(engine, {}) for _ in range(2)))
        backends = {backend for [(backend, _)] in both}
        assert len(backends) == 2, "the pool holds two connections"
        for backend in backends:
            await run_as_admin(postgres_server, f"SELECT pg_terminate_backend({backend})")
        await asyncio.sleep(0.2)

        with pytest.raises(DATABASE_UNAVAILABLE):
            await BACKEND.fetch(engine, {})

        [(replacement,)] = await BACKEND.fetch(engine, {})
        assert replacement not in backends
    finally:
        await engine.dispose()


async def test_a_connection_that_cannot_be_opened_is_a_database_error(
    postgres_server: EmbeddedPostgres,
) -> None:
    missing = make_url(postgres_server.url).set(database=f"missing_{uuid.uuid4().hex}")
    engine = create_engine(missing.render_as_string(hide_password=False), pool_size=1)
    try:
        with pytest.raises(DBAPIError, match="does not exist"):
            await BACKEND.fetch(engine, {})
    finally:
        await engine.dispose()


async def test_a_failed_statement_is_a_database_error_and_keeps_its_connection(
    one_connection: AsyncEngine,
) -> None:
    [(backend,)] = await BACKEND.fetch(one_connection, {})
    number = HotStatement(select(cast(bindparam("text", type_=String), Integer)))

    with pytest.raises(DBAPIError, match="invalid input syntax") as raised:
        await number.fetch(one_connection, {"text": "seven"})

    assert not isinstance(raised.value, DATABASE_UNAVAILABLE)
    assert await BACKEND.fetch(one_connection, {}) == [(backend,)]


async def test_a_statement_cancelled_midway_leaves_the_pool(
    one_connection: AsyncEngine,
) -> None:
    [(backend,)] = await BACKEND.fetch(one_connection, {})
    sleep = HotStatement(select(func.pg_sleep(5)))

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await sleep.fetch(one_connection, {})

    [(replacement,)] = await BACKEND.fetch(one_connection, {})
    assert replacement != backend
