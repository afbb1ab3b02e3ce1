"""Indexes for housekeeping's purges, so each bounded batch finds its oldest rows without
scanning a table, and deleting a message does not scan ``idempotency_keys`` for its claims.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINISHED = "status IN ('canceled', 'delivered', 'discarded', 'expired', 'suppressed')"


def upgrade() -> None:
    op.create_index(
        "ix_messages_finished_updated_at",
        "messages",
        ["updated_at"],
        postgresql_where=sa.text(FINISHED),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    op.create_index("ix_idempotency_keys_message_id", "idempotency_keys", ["message_id"])
    op.create_index("ix_webhook_sends_created_at", "webhook_sends", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_sends_created_at", table_name="webhook_sends")
    op.drop_index("ix_idempotency_keys_message_id", table_name="idempotency_keys")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_index("ix_messages_finished_updated_at", table_name="messages")
