"""raw pages kept for re-extraction; the extractor and its version on articles and revisions

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-26 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Plain ADD/DROP COLUMN on both dialects (SQLite >= 3.35): a batch-mode rebuild of ``articles``
# would drop its full-text-search triggers and trip over the views.


def upgrade() -> None:
    op.create_table(
        "raw_pages",
        sa.Column("id", ID, nullable=False),
        sa.Column("fetch_id", ID, nullable=True),
        sa.Column("article_id", ID, nullable=True),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("compressed_size", sa.BigInteger(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fetch_id"],
            ["fetches.id"],
            name=op.f("fk_raw_pages_fetch_id_fetches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_raw_pages_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_raw_pages_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_pages")),
    )
    op.create_index(op.f("ix_raw_pages_fetch_id"), "raw_pages", ["fetch_id"], unique=False)
    op.create_index(op.f("ix_raw_pages_article_id"), "raw_pages", ["article_id"], unique=False)
    op.create_index(op.f("ix_raw_pages_source_id"), "raw_pages", ["source_id"], unique=False)
    op.create_index(op.f("ix_raw_pages_fetched_at"), "raw_pages", ["fetched_at"], unique=False)
    for table in ("articles", "article_revisions"):
        op.add_column(table, sa.Column("extractor", sa.String(length=32), nullable=True))
        op.add_column(table, sa.Column("extractor_version", sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in ("article_revisions", "articles"):
        op.drop_column(table, "extractor_version")
        op.drop_column(table, "extractor")
    op.drop_index(op.f("ix_raw_pages_fetched_at"), table_name="raw_pages")
    op.drop_index(op.f("ix_raw_pages_source_id"), table_name="raw_pages")
    op.drop_index(op.f("ix_raw_pages_article_id"), table_name="raw_pages")
    op.drop_index(op.f("ix_raw_pages_fetch_id"), table_name="raw_pages")
    op.drop_table("raw_pages")
