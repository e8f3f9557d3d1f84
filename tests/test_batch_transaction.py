"""Storing one batch of pages is ONE transaction, on SQLite and PostgreSQL: articles, URLs, authors,
tags, fetch rows (robots.txt side-fetches too), raw pages, feed-item links, near-duplicate links and
the boilerplate window, all or nothing; boilerplate learning runs in a SAVEPOINT of it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from flows import steps
from flows.settings import Settings
from storage import boilerplate as boilerplate_store
from storage import feeds, runs
from storage.engine import get_engine, transaction
from storage.models import (
    Article,
    ArticleAuthor,
    ArticleTag,
    ArticleURL,
    Author,
    FeedItemRow,
    Fetch,
    MinhashBand,
    RawPageRow,
    RecentPageLine,
    Tag,
)
from tasks.dedup.boilerplate import line_keys
from tasks.dedup.dedup import band_hashes, signature
from tasks.extract.extract import content_hash
from tasks.records import (
    ExtractedArticle,
    ExtractedPage,
    ExtractionResult,
    FeedItem,
    FetchedPage,
    FetchOutcome,
)
from tasks.sources import SourceConfig

NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)
STORED = (Article, ArticleURL, ArticleAuthor, ArticleTag, Author, Tag, MinhashBand, RawPageRow)


def story(n: int) -> str:
    lines = [f"Story {n}: the harbour board met on day {n} and voted on the ferry timetable."]
    lines += [
        f"Paragraph {k} of story {n} adds detail number {k * n} about the vote." for k in range(8)
    ]
    return "\n".join([*lines, "Sign up for our newsletter to get the day's top stories."])


def extracted(n: int) -> ExtractedPage:
    url = f"https://harbour.test/story/{n}"
    text = story(n)
    sig = signature(text)
    article = ExtractedArticle(
        url=url,
        canonical_url=url,
        text=text,
        content_hash=content_hash(text),
        title=f"Story {n}",
        authors=(f"Reporter {n}", "Desk Editor"),
        tags=("Harbour", f"Topic {n}"),
        published_at=NOW,
        word_count=len(text.split()),
        minhash=sig,
        bands=tuple(band_hashes(sig)),
        line_keys=line_keys(text),
    )
    body = f"<html><body><article>{text}</article></body></html>".encode()
    fetch = FetchOutcome(
        url, "page", "ok", final_url=url, status_code=200, body=body, started_at=NOW
    )
    page = FetchedPage(FeedItem(url=url, canonical_url=url, title=f"Story {n}"), fetch)
    return ExtractedPage(page, ExtractionResult(url, article))


ROBOTS = FetchOutcome("https://harbour.test/robots.txt", "robots", "ok", status_code=200)


def prepared(db_url: str) -> tuple[Settings, SourceConfig, int, list[ExtractedPage]]:
    """A run of source ``harbour`` whose feed listed three stories (feed items not yet linked)."""
    settings = Settings(database_url=db_url, extract_workers=0, boilerplate=True)
    pages = [extracted(n) for n in range(3)]
    with transaction(db_url) as session:
        run_id = runs.start_run(session, "harbour", None)
        feeds.record_feed_items(session, run_id, [p.page.item for p in pages])
    return settings, SourceConfig.model_construct(name="harbour"), run_id, pages


@contextmanager
def transactions(db_url: str) -> Iterator[dict[str, int]]:
    """Counts of the engine's transactions (begin, commit) and savepoints while in the block."""
    seen = {"begin": 0, "commit": 0, "savepoint": 0}
    engine = get_engine(db_url)

    def counter(name: str) -> Any:
        def count(*_args: object) -> None:
            seen[name] += 1

        return count

    listeners = {name: counter(name) for name in seen}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)


def rows(db_url: str, model: type[object]) -> int:
    with transaction(db_url) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def linked_items(db_url: str) -> int:
    with transaction(db_url) as session:
        query = select(func.count()).where(FeedItemRow.article_id.is_not(None))
        return int(session.scalar(query) or 0)


def test_store_fetched_is_one_transaction(migrated_db: str) -> None:
    settings, source, run_id, pages = prepared(migrated_db)

    with transactions(migrated_db) as seen:
        counts = steps.store_fetched(settings, source, run_id, pages, [ROBOTS])

    assert seen == {"begin": 1, "commit": 1, "savepoint": 1}  # the savepoint: learning
    assert (counts.new, counts.fetched) == (3, 3)
    assert rows(migrated_db, Article) == rows(migrated_db, RawPageRow) == 3
    assert rows(migrated_db, Fetch) == 4  # three pages and the robots.txt side-fetch
    assert linked_items(migrated_db) == 3
    assert rows(migrated_db, RecentPageLine) > 0  # the boilerplate window, in the same commit


def test_store_fetched_failing_after_its_writes_stores_nothing(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, source, run_id, pages = prepared(migrated_db)
    write_fetches = feeds.add_page_fetches

    def then_fail(*args: Any, **kwargs: Any) -> None:
        write_fetches(*args, **kwargs)  # articles, URLs, terms, links and fetch rows are written
        raise RuntimeError("connection lost")

    monkeypatch.setattr("storage.articles.add_page_fetches", then_fail)
    with pytest.raises(RuntimeError, match="connection lost"):
        steps.store_fetched(settings, source, run_id, pages, [ROBOTS])

    assert [rows(migrated_db, model) for model in (*STORED, Fetch, RecentPageLine)] == [0] * 10
    assert linked_items(migrated_db) == 0


def test_store_fetched_learning_failure_rolls_back_only_the_learning(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, source, run_id, pages = prepared(migrated_db)
    learn = boilerplate_store.learn

    def then_fail(*args: Any, **kwargs: Any) -> int:
        learn(*args, **kwargs)  # the window is written, then learning fails
        raise RuntimeError("lock timeout while learning")

    monkeypatch.setattr(boilerplate_store, "learn", then_fail)
    counts = steps.store_fetched(settings, source, run_id, pages, [ROBOTS])

    assert counts.new == 3 and rows(migrated_db, Article) == 3
    assert rows(migrated_db, RecentPageLine) == 0
