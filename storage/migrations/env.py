"""Alembic environment: the URL comes from the caller (``storage.migrate``), never from a file."""

from __future__ import annotations

from alembic import context
from alembic.runtime.environment import NameFilterParentNames

from storage.engine import get_engine, is_sqlite
from storage.models import Base


def include_name(name: str | None, type_: str, parent_names: NameFilterParentNames) -> bool:
    """Leave the full-text search objects of migration 0005 out of ``alembic check``: they are
    not in the models (PostgreSQL: ``articles.search_vector`` and its index; SQLite: the FTS5
    table ``articles_fts`` and its shadow tables)."""
    if type_ == "table":
        return not (name == "articles_fts" or (name or "").startswith("articles_fts_"))
    if type_ == "column" and parent_names.get("table_name") == "articles":
        return name != "search_vector"
    if type_ == "index":
        return name != "ix_articles_search_vector"
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
