"""Tenants, their hashed API keys and shared rate buckets; messages, idempotency keys and
sequence numbers belong to a tenant (the existing rows to ``default``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT = "default"
TENANT = sa.String(40)


def _tenant_column() -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        TENANT,
        sa.ForeignKey("tenants.id"),
        nullable=False,
        server_default=DEFAULT,
    )


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "tenants",
        sa.Column("id", TENANT, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rate_limit_per_second", sa.Float(), nullable=True),
        sa.Column("rate_limit_burst", sa.Integer(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
    )
    op.execute(
        "INSERT INTO tenants (id, name, weight, created_at) "
        f"VALUES ('{DEFAULT}', 'Default tenant', 1.0, now())"
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", TENANT, sa.ForeignKey("tenants.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("revoked_at", timestamp, nullable=True),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("tenant_id", TENANT, sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("bucket", sa.String(16), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", timestamp, nullable=False),
    )
    for table in ("messages", "idempotency_keys", "recipient_sequences"):
        op.add_column(table, _tenant_column())
        op.alter_column(table, "tenant_id", server_default=None)
    op.create_index("ix_messages_tenant_id_created_at", "messages", ["tenant_id", "created_at"])
    op.drop_constraint("idempotency_keys_pkey", "idempotency_keys", type_="primary")
    op.create_primary_key("idempotency_keys_pkey", "idempotency_keys", ["tenant_id", "key"])
    op.drop_constraint("recipient_sequences_pkey", "recipient_sequences", type_="primary")
    op.create_primary_key(
        "recipient_sequences_pkey", "recipient_sequences", ["tenant_id", "recipient"]
    )


def downgrade() -> None:
    op.drop_constraint("recipient_sequences_pkey", "recipient_sequences", type_="primary")
    op.create_primary_key("recipient_sequences_pkey", "recipient_sequences", ["recipient"])
    op.drop_constraint("idempotency_keys_pkey", "idempotency_keys", type_="primary")
    op.create_primary_key("idempotency_keys_pkey", "idempotency_keys", ["key"])
    op.drop_index("ix_messages_tenant_id_created_at", table_name="messages")
    for table in ("recipient_sequences", "idempotency_keys", "messages"):
        op.drop_column(table, "tenant_id")
    op.drop_table("rate_buckets")
    op.drop_table("api_keys")
    op.drop_table("tenants")
