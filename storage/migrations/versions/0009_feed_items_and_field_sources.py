"""feed_items (what feeds, sitemaps and URL lists said about each item) and articles.*_source

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-26 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


# Plain CREATE TABLE / ADD COLUMN on both dialects: a batch rebuild of articles would drop its
# full-text triggers and trip over the views that read it.


def upgrade() -> None:
    op.create_table(
        "feed_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("feed_url", sa.Text(), nullable=True),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_feed_items_article_id_articles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_feed_items_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_items")),
        sa.UniqueConstraint(
            "source_id", "canonical_url", name=op.f("uq_feed_items_source_id_canonical_url")
        ),
    )
    op.create_index(op.f("ix_feed_items_article_id"), "feed_items", ["article_id"])
    op.create_index("ix_feed_items_source_id_guid", "feed_items", ["source_id", "guid"])
    for column in ("title_source", "date_source", "authors_source"):
        op.add_column("articles", sa.Column(column, sa.String(length=8), nullable=True))


def downgrade() -> None:
    for column in ("authors_source", "date_source", "title_source"):
        op.drop_column("articles", column)
    op.drop_index("ix_feed_items_source_id_guid", table_name="feed_items")
    op.drop_index(op.f("ix_feed_items_article_id"), table_name="feed_items")
    op.drop_table("feed_items")
