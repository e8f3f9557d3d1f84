"""Alembic environment: the URL comes from the caller (``storage.migrate``), never from a file."""

from __future__ import annotations

from alembic import context

from storage.engine import get_engine, is_sqlite
from storage.models import Base

url: str = context.config.attributes["database_url"]
with get_engine(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=is_sqlite(url),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
