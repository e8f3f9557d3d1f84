"""articles.modified_at: the modification time the page states

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-26 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN on both dialects: a batch-mode rebuild of articles would drop the FTS
# triggers and trip over the views that read it.


def upgrade() -> None:
    op.add_column("articles", sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "modified_at")
