"""articles.is_accessible_for_free and articles.paywall_teaser: what the page says about access

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN on both dialects, as in 0010 and 0011 (no batch rebuild of articles: it
# would drop the FTS triggers and trip over the views that read it). Both are NULL for articles
# stored before this revision.


def upgrade() -> None:
    op.add_column("articles", sa.Column("is_accessible_for_free", sa.Boolean(), nullable=True))
    op.add_column("articles", sa.Column("paywall_teaser", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "paywall_teaser")
    op.drop_column("articles", "is_accessible_for_free")
