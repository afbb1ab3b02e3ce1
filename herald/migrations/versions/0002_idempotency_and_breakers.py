"""Idempotency keys with a time to live, and per-provider circuit breakers.

A key is unique only while it lives (``idempotency_keys``), so the unique index on
``messages.idempotency_key`` becomes a plain one: an expired key may be used again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("expires_at", timestamp, nullable=False),
    )
    op.drop_index("ix_messages_idempotency_key", table_name="messages")
    op.create_index("ix_messages_idempotency_key", "messages", ["idempotency_key"])
    op.create_table(
        "circuit_breakers",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcomes", sa.String(1000), nullable=False),
        sa.Column("opened_at", timestamp, nullable=True),
        sa.Column("probe_started_at", timestamp, nullable=True),
        sa.Column("updated_at", timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("circuit_breakers")
    op.drop_index("ix_messages_idempotency_key", table_name="messages")
    op.create_index("ix_messages_idempotency_key", "messages", ["idempotency_key"], unique=True)
    op.drop_table("idempotency_keys")
