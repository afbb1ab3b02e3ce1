"""Per-recipient sequence numbers for strictly ordered messages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recipient_sequences",
        sa.Column("recipient", sa.String(16), primary_key=True),
        sa.Column("last_sequence_number", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("recipient_sequences")
