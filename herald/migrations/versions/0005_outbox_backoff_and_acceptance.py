"""Per-row outbox back-off, the provider's acceptance, and strict lines released by a dead
letter.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("accepted_at", sa.DateTime(timezone=True)))
    op.add_column("messages", sa.Column("line_released_at", sa.DateTime(timezone=True)))
    op.add_column(
        "messages",
        sa.Column("start_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("messages", sa.Column("next_start_at", sa.DateTime(timezone=True)))
    # Messages accepted before this revision: an ack for them is still taken.
    op.execute(
        "UPDATE messages SET accepted_at = updated_at "
        "WHERE provider_message_id IS NOT NULL OR status IN ('awaiting_ack', 'delivered')"
    )


def downgrade() -> None:
    for column in ("next_start_at", "start_attempts", "line_released_at", "accepted_at"):
        op.drop_column("messages", column)
