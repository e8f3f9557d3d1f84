"""feed states for conditional GET

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:48:40.660689
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_states",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("conditional_ok", sa.Boolean(), nullable=False),
        sa.Column("last_not_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_unconditional_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_feed_states")),
    )


def downgrade() -> None:
    op.drop_table("feed_states")
