"""Alembic environment: the URL comes from the caller (``storage.migrate``), never from a file."""

from __future__ import annotations

from alembic import context
from alembic.runtime.environment import NameFilterParentNames

from storage.engine import get_engine, is_sqlite
from storage.models import Base

FTS_TABLES = ("articles_fts", "articles_cjk")  # FTS5 tables (0005, 0015) and their shadow tables


def include_name(name: str | None, type_: str, parent_names: NameFilterParentNames) -> bool:
    """Leave the full-text search objects of migrations 0005 and 0015 out of ``alembic check``:
    they are not in the models (PostgreSQL: ``articles.search_vector`` and its index; SQLite: the
    FTS5 tables ``articles_fts`` and ``articles_cjk``, their shadow tables, the partial index
    ``ix_articles_cjk``)."""
    if type_ == "table":
        return not any(name == t or (name or "").startswith(f"{t}_") for t in FTS_TABLES)
    if type_ == "column" and parent_names.get("table_name") == "articles":
        return name != "search_vector"
    if type_ == "index":
        return name not in ("ix_articles_search_vector", "ix_articles_cjk")
    return True


url: str = context.config.attributes["database_url"]
with get_engine(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=is_sqlite(url),
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
