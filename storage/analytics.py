"""The analysts' side of storage: a streaming export of ``v_articles``, per-source stats, and
retention of the bookkeeping tables (``fetches``, ``ingest_runs``). Articles are never deleted here.

Portable SQL only (SQLite and PostgreSQL); every time window is computed here and bound as a
parameter, so no dialect's date arithmetic is needed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from storage.engine import reading, transaction
from storage.models import Article, Fetch, Id, IngestRun, Source, UTCDateTime, utcnow
from tasks.records import OK_REASONS

# The view of migration 0004, typed so that timestamps come back UTC-aware on both dialects. Its
# own MetaData: Base.metadata (what ``alembic check`` compares) must not see a view as a table.
V_ARTICLES = Table(
    "v_articles",
    MetaData(),
    Column("article_id", Id),
    Column("source", String(64)),
    Column("title", Text),
    Column("authors", Text),
    Column("published_at", UTCDateTime()),
    Column("modified_at", UTCDateTime()),
    Column("language", String(16)),
    Column("url", Text),
    Column("canonical_url", Text),
    Column("word_count", Integer),
    Column("is_duplicate", Integer),
    Column("cluster_id", Id),
    Column("site_name", Text),
    Column("fetched_at", UTCDateTime()),
)
EXPORT_COLUMNS: tuple[str, ...] = (*V_ARTICLES.c.keys(), "text")
# Fetch outcomes that are not failures; robots.txt answers are politeness, not failures either.
FAILURE_WINDOW = timedelta(days=7)
PRUNE_CHUNK = 10_000


def export_rows(
    db_url: str,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
) -> Generator[tuple[Any, ...], None, None]:
    """Every ``v_articles`` row plus the article's text (``EXPORT_COLUMNS``, in article id order),
    streamed ``batch`` rows at a time (a server-side cursor on PostgreSQL), so memory does not
    grow with the table. ``since`` (inclusive) and ``until`` (exclusive) apply to the article's
    date: ``published_at``, or ``fetched_at`` when the page gave none."""
    view = V_ARTICLES.c
    query = select(*V_ARTICLES.c, Article.text).join(Article, Article.id == view.article_id)
    date = func.coalesce(view.published_at, view.fetched_at)
    if source is not None:
        query = query.where(view.source == source)
    if since is not None:
        query = query.where(date >= since)
    if until is not None:
        query = query.where(date < until)
    with reading(db_url) as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch).execute(
            query.order_by(view.article_id)
        )
        for row in result:
            yield tuple(row)


@dataclass(frozen=True, slots=True)
class SourceStats:
    """One source at a glance (``duplicates``: stored near-copies, linked to their story)."""

    source: str
    articles: int
    duplicates: int
    failures_7d: int
    runs: int
    last_run_at: datetime | None
    last_status: str | None


def _count(*where: ColumnElement[bool]) -> Select[int]:
    return select(func.count()).where(*where)


def source_stats(session: Session, now: datetime | None = None) -> list[SourceStats]:
    """Per source, by name: articles, near-duplicates, failed fetches of the last 7 days
    (robots.txt excluded), runs, and the latest run's start and status."""
    since = (now or utcnow()) - FAILURE_WINDOW
    runs = IngestRun.source_id == Source.id
    query = select(
        Source.name,
        _count(Article.source_id == Source.id).scalar_subquery(),
        _count(Article.source_id == Source.id, Article.duplicate_of.is_not(None)).scalar_subquery(),
        _count(
            Fetch.source_id == Source.id,
            Fetch.kind != "robots",
            Fetch.reason.not_in(OK_REASONS),
            Fetch.fetched_at >= since,
        ).scalar_subquery(),
        _count(runs).scalar_subquery(),
        select(func.max(IngestRun.started_at)).where(runs).scalar_subquery(),
        select(IngestRun.status)
        .where(runs)
        .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
        .limit(1)
        .scalar_subquery(),
    ).order_by(Source.name)
    rows = session.execute(query).all()
    return [
        SourceStats(
            source=name,
            articles=int(articles),
            duplicates=int(duplicates),
            failures_7d=int(failures),
            runs=int(run_count),
            last_run_at=last_run_at,
            last_status=status,
        )
        for name, articles, duplicates, failures, run_count, last_run_at, status in rows
    ]


@dataclass(frozen=True, slots=True)
class PruneCounts:
    """Rows deleted (or, in a dry run, that would be)."""

    fetches: int = 0
    runs: int = 0


def _prunable_runs(before: datetime) -> ColumnElement[bool]:
    """Finished runs that ended before ``before`` and that no article names as its origin
    (``articles.ingest_run_id`` stays meaningful: such runs are kept)."""
    referenced = exists().where(Article.ingest_run_id == IngestRun.id)
    return (
        (IngestRun.status != "running")
        & IngestRun.finished_at.is_not(None)
        & (IngestRun.finished_at < before)
        & ~referenced
    )


def _delete_chunked(db_url: str, table: Any, where: ColumnElement[bool], chunk: int) -> int:
    """Delete in chunks of ``chunk`` rows, one short transaction each (SQLite: the write lock is
    never held for long, so a concurrent ingest only waits for one chunk)."""
    total = 0
    while True:
        # correlate(None): the subquery reads the table itself, not the DELETE's row.
        ids = select(table.id).where(where).order_by(table.id).limit(chunk).correlate(None)
        with transaction(db_url) as session:
            result = session.execute(delete(table).where(table.id.in_(ids)))
            deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += deleted
        if deleted < chunk:
            return total


def prune(
    db_url: str,
    fetches_before: datetime,
    runs_before: datetime | None = None,
    dry_run: bool = False,
    chunk: int = PRUNE_CHUNK,
) -> PruneCounts:
    """Delete ``fetches`` rows fetched before ``fetches_before`` and, with ``runs_before``,
    finished ``ingest_runs`` rows that ended before it and produced no stored article (the
    ``fetches`` rows of a deleted run keep existing, their ``ingest_run_id`` set to NULL by the
    foreign key). Articles, their URLs, authors, tags and revisions are never touched.
    Idempotent; ``dry_run`` only counts."""
    old_fetches = Fetch.fetched_at < fetches_before
    old_runs = _prunable_runs(runs_before) if runs_before is not None else None
    if dry_run:
        with reading(db_url) as connection:
            fetches = connection.execute(_count(old_fetches)).scalar_one()
            runs = connection.execute(_count(old_runs)).scalar_one() if old_runs is not None else 0
        return PruneCounts(int(fetches), int(runs))
    fetches = _delete_chunked(db_url, Fetch, old_fetches, chunk)
    runs = _delete_chunked(db_url, IngestRun, old_runs, chunk) if old_runs is not None else 0
    return PruneCounts(fetches, runs)
