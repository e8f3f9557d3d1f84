"""host_slots: per-host politeness shared by every worker of one database

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 19:00:00

One row per host that a worker with shared host slots has fetched from: when the host is free
again (``free_after``, seconds since 1970 on the database's clock) and which worker's run holds
it while a request is in flight (``holder``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


# A new table: the same CREATE TABLE on both dialects (no batch mode needed, no view reads it).


def upgrade() -> None:
    op.create_table(
        "host_slots",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("free_after", sa.Double(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("host", name="pk_host_slots"),
    )


def downgrade() -> None:
    op.drop_table("host_slots")
