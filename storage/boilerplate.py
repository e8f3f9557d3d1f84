"""The SQL of per-source boilerplate learning: the window of recent pages' line keys, and the
learned lines (``boilerplate_lines``). The rule that decides is a plain function passed in.
Every function works in the caller's session (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import Article, ArticleURL, BoilerplateLine, RecentPageLine, Source, utcnow
from storage.sql import chunks, ensure_source, insert_ignoring
from tasks.records import PageLines

# Picks the learned keys: (distinct stories per key, distinct stories in the window) -> keys.
Decide = Callable[[Mapping[str, int], int], set[str]]


@dataclass(frozen=True, slots=True)
class LearnedLine:
    source: str
    line: str
    pages_seen: int
    first_seen_at: datetime
    last_seen_at: datetime


def learned_keys(session: Session, source_name: str) -> frozenset[str]:
    """The source's learned boilerplate line keys (what extraction strips)."""
    rows = session.scalars(
        select(BoilerplateLine.line_hash)
        .join(Source, Source.id == BoilerplateLine.source_id)
        .where(Source.name == source_name)
    )
    return frozenset(rows)


def learned_lines(session: Session, source_name: str | None = None) -> list[LearnedLine]:
    """The learned lines of one source (or all), by source, most widespread first."""
    query = (
        select(
            Source.name,
            BoilerplateLine.line,
            BoilerplateLine.pages_seen,
            BoilerplateLine.first_seen_at,
            BoilerplateLine.last_seen_at,
        )
        .join(Source, Source.id == BoilerplateLine.source_id)
        .order_by(Source.name, BoilerplateLine.pages_seen.desc(), BoilerplateLine.line)
    )
    if source_name is not None:
        query = query.where(Source.name == source_name)
    return [LearnedLine(*row) for row in session.execute(query)]


def _article_ids(session: Session, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(sorted(set(urls))):
        rows = session.execute(
            select(ArticleURL.url, ArticleURL.article_id).where(ArticleURL.url.in_(chunk))
        )
        found.update({url: article_id for url, article_id in rows})
    return found


def _remember(session: Session, source_id: int, pages: Sequence[PageLines]) -> None:
    """Add the pages' line keys to the window (an article seen again adds nothing)."""
    ids = _article_ids(session, [p.url for p in pages])
    now = utcnow()
    rows = [
        {"article_id": ids[p.url], "line_hash": key, "source_id": source_id, "seen_at": now}
        for p in pages
        if p.url in ids
        for key in p.keys
    ]
    insert_ignoring(session, RecentPageLine, rows)  # executemany: cheaper than a multi-row VALUES


def _trim(session: Session, source_id: int, window: int) -> None:
    """Keep the lines of the source's ``window`` most recently stored articles only."""
    keep = (
        select(RecentPageLine.article_id)
        .where(RecentPageLine.source_id == source_id)
        .group_by(RecentPageLine.article_id)
        .order_by(func.max(RecentPageLine.seen_at).desc(), RecentPageLine.article_id.desc())
        .limit(window)
    )
    session.execute(
        delete(RecentPageLine).where(
            RecentPageLine.source_id == source_id, RecentPageLine.article_id.not_in(keep)
        )
    )


def _story_counts(
    session: Session, source_id: int, keys: Sequence[str]
) -> tuple[dict[str, int], int]:
    """Distinct stories (a near-duplicate cluster counts once) per key, and in the window."""
    story = func.count(func.distinct(func.coalesce(Article.duplicate_of, Article.id)))
    window = (
        select(RecentPageLine.line_hash, story)
        .join(Article, Article.id == RecentPageLine.article_id)
        .where(RecentPageLine.source_id == source_id)
    )
    total = session.execute(window.with_only_columns(story)).scalar_one()
    counts: dict[str, int] = {}
    for chunk in chunks(sorted(set(keys))):
        query = window.where(RecentPageLine.line_hash.in_(chunk)).group_by(RecentPageLine.line_hash)
        counts.update({key: int(n) for key, n in session.execute(query)})
    return counts, int(total)


def learn(
    session: Session, source_name: str, pages: Sequence[PageLines], decide: Decide, window: int
) -> int:
    """Record a stored batch's pages in the source's window, then learn the lines ``decide``
    picks (and refresh ``pages_seen``/``last_seen_at`` of learned lines seen again). Returns how
    many lines were newly learned."""
    if not pages:
        return 0
    source_id = ensure_source(session, source_name)
    _remember(session, source_id, pages)
    _trim(session, source_id, window)
    counts, stories = _story_counts(session, source_id, [k for p in pages for k in p.keys])
    known = set(
        session.scalars(
            select(BoilerplateLine.line_hash).where(BoilerplateLine.source_id == source_id)
        )
    )
    now = utcnow()
    for key in known & counts.keys():
        session.execute(
            update(BoilerplateLine)
            .where(BoilerplateLine.source_id == source_id, BoilerplateLine.line_hash == key)
            .values(pages_seen=counts[key], last_seen_at=now)
        )
    texts = {key: text for page in pages for key, text in page.texts}
    new = [k for k in sorted(decide(counts, stories) - known) if k in texts]
    rows = [
        {
            "source_id": source_id,
            "line_hash": key,
            "line": texts[key],
            "pages_seen": counts[key],
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for key in new
    ]
    insert_ignoring(session, BoilerplateLine, rows)
    return len(rows)
