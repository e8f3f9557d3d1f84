"""robots_files: each host's robots.txt answer, kept across runs until it expires (24 h)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


# A new table: the same CREATE TABLE on both dialects (no batch mode needed, no view reads it).


def upgrade() -> None:
    op.create_table(
        "robots_files",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name="pk_robots_files"),
    )
    op.create_index("ix_robots_files_expires_at", "robots_files", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_robots_files_expires_at", table_name="robots_files")
    op.drop_table("robots_files")
