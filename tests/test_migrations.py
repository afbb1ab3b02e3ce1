"""The migrations build the schema the models describe: a column, type or index added to a
model without its migration (or the other way round) fails here, not in production."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

import herald.core.models
import herald.core.webhook_models
from herald.core.database import create_engine
from herald.devstack.postgres import EmbeddedPostgres

MODULES = (herald.core.models, herald.core.webhook_models)
"""Every module with tables: importing them fills ``SQLModel.metadata``."""


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_the_migrated_schema_is_the_models_schema(
    postgres_server: EmbeddedPostgres,
) -> None:
    engine = create_engine(postgres_server.url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
