"""per-source boilerplate: learned lines and the window of recent pages' line keys

Revision ID: 0008
Revises: 0009
Create Date: 2026-11-26 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "boilerplate_lines",
        sa.Column("source_id", ID, nullable=False),
        sa.Column("line_hash", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("pages_seen", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_boilerplate_lines_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "line_hash", name=op.f("pk_boilerplate_lines")),
    )
    op.create_table(
        "recent_page_lines",
        sa.Column("article_id", ID, nullable=False),
        sa.Column("line_hash", sa.String(length=32), nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_recent_page_lines_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_recent_page_lines_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "line_hash", name=op.f("pk_recent_page_lines")),
    )
    op.create_index(
        op.f("ix_recent_page_lines_source_id"), "recent_page_lines", ["source_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_recent_page_lines_source_id"), table_name="recent_page_lines")
    op.drop_table("recent_page_lines")
    op.drop_table("boilerplate_lines")
