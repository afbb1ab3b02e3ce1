"""Webhook sends found by their message, for a message's outcome events.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_sends_message_id_created_at", "webhook_sends", ["message_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_sends_message_id_created_at", table_name="webhook_sends")
