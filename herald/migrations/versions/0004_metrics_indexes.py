"""An index for the metrics' sliding window: messages delivered since a moment.

Partial (``delivered_at IS NOT NULL``): only delivered messages have a ``delivered_at``.
The window's dead letters are found through ``ix_messages_status_next_retry_at``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_delivered_at",
        "messages",
        ["delivered_at"],
        postgresql_where=sa.text("delivered_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_delivered_at", table_name="messages")
