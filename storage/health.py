"""Per-source health read from the database: why a source fails (its failed fetches by reason,
its latest run's error), its runs by status, its last success and how long after publication
its articles are stored. Used by ``newsflow stats`` and ``newsflow metrics``. Portable SQL
(SQLite and PostgreSQL); robots.txt fetches are never failures (a disallowed or deferred page is
recorded as the page's own row)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Article, Fetch, IngestRun, Source, utcnow
from tasks.records import OK_REASONS

WINDOW = timedelta(days=7)


@dataclass(slots=True)
class SourceHealth:
    source: str
    articles: int = 0
    runs: dict[str, int] = field(default_factory=dict)  # status -> runs
    failures_7d: dict[str, int] = field(default_factory=dict)  # reason -> failed fetches
    last_success_at: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    feed_lag_seconds: float | None = None  # median publication-to-storage delay, 7 days
    empty_runs: int = 0  # the latest finished runs in a row that stored nothing


def failures_by_source(session: Session, since: datetime) -> dict[str, dict[str, int]]:
    """Per source, its failed fetches (robots.txt aside) since ``since``, by reason."""
    query = (
        select(Source.name, Fetch.reason, func.count())
        .join(Fetch, Fetch.source_id == Source.id)
        .where(Fetch.kind != "robots", Fetch.reason.not_in(OK_REASONS), Fetch.fetched_at >= since)
        .group_by(Source.name, Fetch.reason)
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for name, reason, count in session.execute(query):
        out[str(name)][str(reason)] = int(count)
    return dict(out)


def _latest_runs(session: Session) -> dict[str, tuple[str, str | None]]:
    """Per source, its latest finished run's status and error."""
    latest = (
        select(func.max(IngestRun.id))
        .where(IngestRun.status != "running")
        .group_by(IngestRun.source_id)
    )
    query = (
        select(Source.name, IngestRun.status, IngestRun.error)
        .join(IngestRun, IngestRun.source_id == Source.id)
        .where(IngestRun.id.in_(latest))
    )
    return {str(name): (str(status), error) for name, status, error in session.execute(query)}


def empty_streaks(session: Session, names: Sequence[str] | None = None) -> dict[str, int]:
    """Per source (all, or ``names``), how many of its latest finished runs in a row stored no
    article (failed runs included): the runs after its last run that stored one. Sources with no
    such run are left out. What ``newsflow metrics`` exports and the empty-source alert reads."""
    last_new = (
        select(func.coalesce(func.max(IngestRun.id), 0))
        .where(IngestRun.source_id == Source.id, IngestRun.status != "running", IngestRun.new > 0)
        .correlate(Source)
        .scalar_subquery()
    )
    query = (
        select(Source.name, func.count(IngestRun.id))
        .join(IngestRun, IngestRun.source_id == Source.id)
        .where(IngestRun.status != "running", IngestRun.id > last_new)
        .group_by(Source.name)
    )
    if names is not None:
        query = query.where(Source.name.in_(list(names)))
    return {str(name): int(count) for name, count in session.execute(query)}


def _lags(session: Session, since: datetime) -> dict[str, float]:
    query = (
        select(Source.name, Article.published_at, Article.fetched_at)
        .join(Article, Article.source_id == Source.id)
        .where(Article.fetched_at >= since, Article.published_at.is_not(None))
    )
    delays: dict[str, list[float]] = defaultdict(list)
    for name, published, fetched in session.execute(query):
        if published is None:
            continue
        delay = (fetched - published).total_seconds()
        if delay >= 0:  # a future date (time zone bugs) says nothing about lag
            delays[name].append(delay)
    return {name: statistics.median(values) for name, values in delays.items()}


def source_health(session: Session, now: datetime | None = None) -> list[SourceHealth]:
    """Every source the database knows, by name."""
    now = now or utcnow()
    found: dict[str, SourceHealth] = {}
    for (name,) in session.execute(select(Source.name).order_by(Source.name)):
        found[name] = SourceHealth(name)
    articles = select(Source.name, func.count()).join(Article, Article.source_id == Source.id)
    for name, count in session.execute(articles.group_by(Source.name)):
        found[name].articles = int(count)
    runs = select(Source.name, IngestRun.status, func.count()).join(
        IngestRun, IngestRun.source_id == Source.id
    )
    for name, status, count in session.execute(runs.group_by(Source.name, IngestRun.status)):
        found[name].runs[str(status)] = int(count)
    success = (
        select(Source.name, func.max(IngestRun.finished_at))
        .join(IngestRun, IngestRun.source_id == Source.id)
        .where(IngestRun.status == "completed")
        .group_by(Source.name)
    )
    for name, finished in session.execute(success):
        found[name].last_success_at = finished
    for name, reasons in failures_by_source(session, now - WINDOW).items():
        found[name].failures_7d = reasons
    for name, (status, error) in _latest_runs(session).items():
        found[name].last_status, found[name].last_error = status, error
    for name, streak in empty_streaks(session).items():
        found[name].empty_runs = streak
    for name, lag in _lags(session, now - WINDOW).items():
        found[name].feed_lag_seconds = lag
    return list(found.values())
