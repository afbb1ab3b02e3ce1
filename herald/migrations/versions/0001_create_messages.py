"""Create the messages table.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("ordering", sa.String(16), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", timestamp, nullable=True),
        sa.Column("last_retry_at", timestamp, nullable=True),
        sa.Column("delivered_at", timestamp, nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("failure_class", sa.String(16), nullable=True),
        sa.Column("provider_message_id", sa.String(255), nullable=True),
        sa.Column("metadata", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("updated_at", timestamp, nullable=False),
    )
    op.create_index("ix_messages_idempotency_key", "messages", ["idempotency_key"], unique=True)
    op.create_index("ix_messages_status_next_retry_at", "messages", ["status", "next_retry_at"])
    op.create_index("ix_messages_recipient_created_at", "messages", ["recipient", "created_at"])


def downgrade() -> None:
    op.drop_table("messages")
