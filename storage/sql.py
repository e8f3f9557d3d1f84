"""The SQL helpers every storage module shares: the dialect's ``INSERT`` (which offers
``ON CONFLICT``), executemany inserts, chunked ``IN`` lists, the source row (by name or run)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import IngestRun, Source

CHUNK = 500  # values per ``IN (...)`` list or multi-row ``VALUES``


def dialect_insert(session: Session, table: Any) -> Any:
    """``INSERT`` of the session's dialect, which offers ``on_conflict_do_nothing/update``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring(session: Session, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table`` (a model or a table) in one
    executemany of one cached statement, skipping rows that collide with a unique key."""
    if not rows:
        return
    target = getattr(table, "__table__", table)
    statement = dialect_insert(session, target).on_conflict_do_nothing()
    session.connection().execute(statement, list(rows))


def chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def ensure_source(session: Session, name: str) -> int:
    """The id of the source ``name``, its row created if missing."""
    session.execute(dialect_insert(session, Source).values(name=name).on_conflict_do_nothing())
    return session.execute(select(Source.id).where(Source.name == name)).scalar_one()


def run_source(session: Session, run_id: int) -> int:
    """The id of the source ingest run ``run_id`` ingests."""
    return session.execute(select(IngestRun.source_id).where(IngestRun.id == run_id)).scalar_one()
