"""Per source, its latest ingest run and stored articles (``newsflow sources list``). Portable SQL
(SQLite and PostgreSQL); a database without the tables yet reads as empty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, inspect, select

from storage.engine import reading
from storage.models import Article, IngestRun, Source


@dataclass(frozen=True, slots=True)
class SourceActivity:
    """A source's stored articles and its latest run (``None`` fields: it never ran)."""

    source: str
    articles: int
    last_run_at: datetime | None = None
    last_status: str | None = None
    feed_items: int | None = None
    fetched: int | None = None
    new: int | None = None
    failed: int | None = None


def source_activity(db_url: str) -> dict[str, SourceActivity]:
    """Every source the database knows, by name: article count and latest run (by start)."""
    latest = (
        select(IngestRun.id)
        .where(IngestRun.source_id == Source.id)
        .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
        .limit(1)
        .correlate(Source)
        .scalar_subquery()
    )
    articles = (
        select(func.count()).where(Article.source_id == Source.id).correlate(Source)
    ).scalar_subquery()
    query = select(
        Source.name,
        articles,
        IngestRun.started_at,
        IngestRun.status,
        IngestRun.feed_items,
        IngestRun.fetched,
        IngestRun.new,
        IngestRun.failed,
    ).outerjoin(IngestRun, IngestRun.id == latest)
    with reading(db_url) as connection:
        tables = inspect(connection)
        if not all(tables.has_table(t) for t in ("sources", "ingest_runs", "articles")):
            return {}
        rows = connection.execute(query).all()
    return {
        name: SourceActivity(name, int(count), started, status, items, fetched, new, failed)
        for name, count, started, status, items, fetched, new, failed in rows
    }
