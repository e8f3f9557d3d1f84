"""The SQL of what discovery and fetching leave: ``fetches`` rows (and the kept ``raw_pages`` of
fetched pages), ``feed_items`` and the feeds' conditional-GET state (``feed_states``). Every
function works in the caller's session (the caller owns the transaction)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from storage.models import ArticleURL, FeedItemRow, FeedStateRow, Fetch, RawPageRow, utcnow
from storage.sql import CHUNK, chunks, dialect_insert, run_source
from tasks.records import FeedItem, FeedState, FetchOutcome, RawPage


def fetch_row(run_id: int, source_id: int, outcome: FetchOutcome, article_id: int | None) -> Fetch:
    return Fetch(
        source_id=source_id,
        ingest_run_id=run_id,
        article_id=article_id,
        kind=outcome.kind,
        url=outcome.url,
        final_url=outcome.final_url,
        status_code=outcome.status_code,
        reason=outcome.reason,
        detail=outcome.detail,
        content_type=(outcome.content_type or "")[:255] or None,
        duration_ms=outcome.duration_ms,
        bytes=outcome.bytes_read,
        fetched_at=outcome.started_at or utcnow(),
    )


def record_fetches(
    session: Session,
    run_id: int,
    outcomes: Sequence[FetchOutcome],
    feed_states: Sequence[FeedState] = (),
) -> None:
    """Record attempts that produced no article (feeds, robots.txt) and the feeds' new
    conditional-GET state."""
    source_id = run_source(session, run_id)
    session.add_all(fetch_row(run_id, source_id, o, None) for o in outcomes)
    for state in feed_states:
        session.merge(feed_state_row(state))


def add_page_fetches(
    session: Session,
    run_id: int,
    source_id: int,
    fetched: Sequence[tuple[FetchOutcome, RawPage | None, int | None]],
) -> None:
    """The pages' ``fetches`` rows (outcome, kept body, article id) and, for each page whose
    body was kept, its ``raw_pages`` row: one flush for the fetch rows (their ids), one insert
    for the raw pages."""
    rows = [(fetch_row(run_id, source_id, o, a), raw, a) for o, raw, a in fetched]
    session.add_all(row for row, _, _ in rows)
    if not any(raw is not None for _, raw, _ in rows):
        return
    session.flush()  # the fetch rows' ids
    session.add_all(raw_row(raw, row, a) for row, raw, a in rows if raw is not None)


def raw_row(raw: RawPage, fetch: Fetch, article_id: int | None) -> RawPageRow:
    return RawPageRow(
        fetch_id=fetch.id,
        article_id=article_id,
        source_id=fetch.source_id,
        url=raw.url,
        content_type=raw.content_type,
        encoding=raw.encoding,
        body=raw.body,
        size=raw.size,
        compressed_size=len(raw.body),
        fetched_at=fetch.fetched_at,
    )


def _feed_item_values(source_id: int, item: FeedItem, now: datetime) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "feed_url": item.feed_url,
        "guid": item.guid,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "published_at": item.published_at,
        "updated_at": item.updated_at,
        "author": item.author,
        "summary": item.summary,
        "categories": json.dumps(list(item.categories), ensure_ascii=False)
        if item.categories
        else None,
        "first_seen_at": now,
        "last_seen_at": now,
    }


_FEED_ITEM_UPDATES = (
    "feed_url",
    "guid",
    "url",
    "title",
    "published_at",
    "updated_at",
    "author",
    "summary",
    "categories",
    "last_seen_at",
)


def record_feed_items(session: Session, run_id: int, items: Sequence[FeedItem]) -> None:
    """Upsert what the source's documents said about its items (one row per source and canonical
    URL: the latest reading wins, ``first_seen_at`` stays), and link rows whose URL is already
    an article's. Idempotent: a replayed batch changes nothing but ``last_seen_at``."""
    now = utcnow()
    source_id = run_source(session, run_id)
    for start in range(0, len(items), CHUNK):
        rows = [_feed_item_values(source_id, i, now) for i in items[start : start + CHUNK]]
        statement = dialect_insert(session, FeedItemRow).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["source_id", "canonical_url"],
            set_={name: getattr(statement.excluded, name) for name in _FEED_ITEM_UPDATES},
        )
        session.execute(statement)
    known = (
        select(ArticleURL.article_id)
        .where(ArticleURL.url == FeedItemRow.canonical_url)
        .scalar_subquery()
    )
    for chunk in chunks([i.canonical_url for i in items]):
        session.execute(
            update(FeedItemRow)
            .where(FeedItemRow.source_id == source_id, FeedItemRow.article_id.is_(None))
            .where(FeedItemRow.canonical_url.in_(chunk))
            .values(article_id=known)
        )


def link_feed_items(session: Session, source_id: int, links: Sequence[tuple[str, int]]) -> None:
    """Point the source's feed items (by canonical URL) at their articles, in order (a later
    link of the same URL wins), in one executemany."""
    if not links:
        return
    table = cast(Table, FeedItemRow.__table__)
    statement = (
        update(table)  # the Core table: an executemany, not an ORM bulk update
        .where(table.c.source_id == source_id, table.c.canonical_url == bindparam("item_url"))
        .values(article_id=bindparam("item_article"))
    )
    rows = [{"item_url": url, "item_article": article_id} for url, article_id in links]
    session.connection().execute(statement, rows)


def feed_state_row(state: FeedState) -> FeedStateRow:
    return FeedStateRow(
        url=state.url,
        etag=(state.etag or "")[:1000] or None,
        last_modified=(state.last_modified or "")[:64] or None,
        body_hash=state.body_hash,
        conditional_ok=state.conditional_ok,
        last_not_modified_at=state.last_not_modified_at,
        last_unconditional_at=state.last_unconditional_at,
        updated_at=utcnow(),
    )


def feed_states(session: Session, urls: Sequence[str]) -> dict[str, FeedState]:
    """What we remember of these feeds from earlier runs."""
    rows = session.scalars(select(FeedStateRow).where(FeedStateRow.url.in_(list(urls))))
    return {
        row.url: FeedState(
            url=row.url,
            etag=row.etag,
            last_modified=row.last_modified,
            body_hash=row.body_hash,
            conditional_ok=row.conditional_ok,
            last_not_modified_at=row.last_not_modified_at,
            last_unconditional_at=row.last_unconditional_at,
        )
        for row in rows
    }
