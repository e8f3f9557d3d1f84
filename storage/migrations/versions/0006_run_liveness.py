"""run liveness: host, pid and heartbeat of ingest_runs, to mark dead runs crashed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 05:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN on both dialects (SQLite >= 3.35): a batch-mode table rebuild would trip
# over the views that read ingest_runs.


def upgrade() -> None:
    op.add_column("ingest_runs", sa.Column("host", sa.String(length=255), nullable=True))
    op.add_column("ingest_runs", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column(
        "ingest_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("ingest_runs", "heartbeat_at")
    op.drop_column("ingest_runs", "pid")
    op.drop_column("ingest_runs", "host")
