"""Schema management through Alembic only: upgrade, inspect, check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.engine import get_engine, is_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutdated(Exception):
    """The database is behind the code and will not be upgraded implicitly."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def has_schema(url: str) -> bool:
    """Whether the database exists and has the ingest tables, without creating anything (a SQLite
    file is not created by asking)."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database or ""
    if is_sqlite(url) and database not in ("", ":memory:") and not Path(database).exists():
        return False
    with get_engine(url).connect() as connection:
        return inspect(connection).has_table("ingest_runs")


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the models and the migrated database differ (``alembic check``)."""
    command.check(alembic_config(url))


def ensure_schema(url: str) -> None:
    """Bring an empty or outdated SQLite database to head; refuse to touch others implicitly."""
    if current_revision(url) == head_revision():
        return
    if is_sqlite(url):
        upgrade(url)
        return
    raise SchemaOutdated(
        "the database schema is not at the current revision; run `newsflow db upgrade` first"
    )
