"""articles.gone_at: when a re-check found the page removed (404 or 410)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN on both dialects, as in 0010 (no batch rebuild of articles).


def upgrade() -> None:
    op.add_column("articles", sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "gone_at")
