"""Statements on a message's hot path, built with SQLAlchemy and run straight on asyncpg.

A delivery runs about five statements on its way (an attempt's first statement and its
record, the final transition, the ack's read of the message's standing, the ``queued``
mark). Through a SQLAlchemy ``AsyncConnection`` each costs about 420 µs of the client's CPU,
against 100 µs for the same statement on the pooled connection's asyncpg driver (measured
by ``python -m bench.statement_cost``): the execution context, the compiled-cache lookup,
the result proxy and the greenlet hop cost more than the statement. A :class:`HotStatement`
is written in SQLAlchemy Core like every other statement, compiled once, and run on the
driver of a connection from the same pool, so the pool's idle ping still guards it and the
connections are shared. Values go through the columns' own bind processors, so a row reads
and writes as it does through SQLAlchemy.

Each statement runs by itself, outside a transaction (autocommit); a statement that needs a
transaction with others goes through a session. A driver error is raised as SQLAlchemy's
``DBAPIError``, or as ``OperationalError`` when it closed the connection (a database
restart, a dropped socket), which is then discarded from the pool rather than returned to
it, with every connection opened before it, as SQLAlchemy does: every caller already
expects these. A
statement cancelled midway (a request's timeout) discards its connection too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["HotStatement"]

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    """The bound parameters' names in the order of their ``$n``."""
    fixed: Mapping[str, Any]
    """Values given when the statement was built (its literals)."""
    binders: tuple[Processor, ...]


class HotStatement:
    """One statement, compiled at its first run for the engine's dialect. Expanding
    ``IN`` parameters are not supported: write ``= ANY(:values)`` with an ``ARRAY`` type."""

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: _Compiled | None = None
        self._readers: tuple[Processor, ...] | None = None

    async def fetch(self, engine: AsyncEngine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it on a connection of ``engine``'s pool, with ``values`` bound by name; the
        rows it returns, each value read as SQLAlchemy would read it."""
        compiled = self._compiled or self._compile(engine.dialect)
        arguments = [
            _processed(bind, values[name] if name in values else compiled.fixed[name])
            for name, bind in zip(compiled.names, compiled.binders, strict=True)
        ]
        connection = await _checkout(engine)
        driver = connection.driver_connection
        assert driver is not None  # a connection checked out of the pool is open
        try:
            readers = self._readers
            if readers is None:
                readers = await self._learn_readers(driver, engine.dialect, compiled.sql)
            records = await driver.fetch(compiled.sql, *arguments)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            if not driver.is_closed():  # the statement failed, not the connection
                raise DBAPIError(compiled.sql, arguments, error) from error
            # As SQLAlchemy does on a disconnect: every connection opened before this one
            # is presumed dead too (a database restart took them all), and is replaced at
            # its next checkout rather than failing the request that meets it.
            engine.sync_engine.pool._invalidate(connection, error)
            raise OperationalError(compiled.sql, arguments, error) from error
        except BaseException:
            connection.invalidate()  # cancelled mid-statement: the connection's state is unknown
            raise
        finally:
            connection.close()
        return [
            tuple(_processed(read, value) for read, value in zip(readers, record, strict=True))
            for record in records
        ]

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement = self._statement
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        # Literal lists (``NOT IN`` the finished statuses) are rendered into the SQL now; the
        # parameters bound at each run get a stand-in meanwhile.
        required = {name for name, bind in compiled.binds.items() if bind.required}
        expanded = compiled.construct_expanded_state(dict.fromkeys(required))
        names = tuple(expanded.positiontup or ())
        self._compiled = _Compiled(
            sql=expanded.statement,
            names=names,
            fixed={
                name: value for name, value in expanded.parameters.items() if name not in required
            },
            binders=tuple(expanded.processors.get(name) for name in names),
        )
        return self._compiled

    async def _learn_readers(
        self, driver: Any, dialect: Dialect, sql: str
    ) -> tuple[Processor, ...]:
        """How to read each column the statement returns, by the type PostgreSQL says it
        has (as SQLAlchemy reads a cursor's description): asked once."""
        returned: Sequence[Any] = getattr(self._statement, "exported_columns", ())
        attributes = (await driver.prepare(sql)).get_attributes()
        self._readers = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, attribute.type.oid)
            for column, attribute in zip(returned, attributes, strict=True)
        )
        return self._readers


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    """A connection from ``engine``'s pool. A driver error while opening one (a database
    starting up, a refused login) is raised as SQLAlchemy's, as ``engine.connect()`` does;
    a socket that cannot connect raises ``OSError`` there too."""
    try:
        return await engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            None, None, error, engine.dialect.loaded_dbapi.Error, dialect=engine.dialect
        ) from error


def _processed(processor: Processor, value: Any) -> Any:
    return processor(value) if processor is not None else value
