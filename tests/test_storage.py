"""Storage on SQLite and on the real PostgreSQL: migrations, idempotent upserts, one transaction
per batch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from storage import articles, runs
from storage.engine import get_engine, transaction
from storage.migrate import (
    SchemaOutdated,
    alembic_config,
    check,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)
from storage.models import Article, ArticleAuthor, ArticleTag, ArticleURL, Author, Fetch, IngestRun
from tasks.extract.extract import content_hash
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult, RunCounts

TEXT = "The council approved the new budget on Tuesday after a long debate. " * 10


def article(url: str, text: str = TEXT, **fields: object) -> ExtractedArticle:
    values: dict[str, object] = {
        "url": url,
        "canonical_url": url,
        "text": text,
        "content_hash": content_hash(text),
        "title": "Budget approved",
        "authors": ("Jane Doe", "John Roe"),
        "tags": ("Politics", "Budget"),
        "published_at": datetime(2026, 11, 1, 12, tzinfo=UTC),
        "word_count": len(text.split()),
    }
    values.update(fields)
    return ExtractedArticle(**values)  # type: ignore[arg-type]


def page(url: str, art: ExtractedArticle | None, reason: str = "ok") -> PageResult:
    fetch = FetchOutcome(
        url=url,
        kind="page",
        reason=reason,
        final_url=url,
        status_code=200 if reason == "ok" else None,
        started_at=datetime.now(UTC),
    )
    return PageResult(fetch=fetch, item=FeedItem(url=url, canonical_url=url), article=art)


def count(db_url: str, model: type[object]) -> int:
    with transaction(db_url) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_migrations_upgrade_from_empty_and_match_models(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    check(db_url)  # alembic check: no difference between models and migrated schema
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {"sources", "articles", "authors", "article_authors", "tags", "article_tags"} <= tables
    assert {"fetches", "ingest_runs", "article_urls", "alembic_version"} <= tables


def test_migrations_downgrade_to_base_and_up_again(db_url: str) -> None:
    upgrade(db_url)
    command.downgrade(alembic_config(db_url), "base")
    assert "articles" not in inspect(get_engine(db_url)).get_table_names()
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_ensure_schema_upgrades_empty_sqlite(sqlite_url: str) -> None:
    ensure_schema(sqlite_url)
    assert current_revision(sqlite_url) == head_revision()


def test_ensure_schema_refuses_to_migrate_postgresql_implicitly(pg_url: str) -> None:
    with pytest.raises(SchemaOutdated, match="newsflow db upgrade"):
        ensure_schema(pg_url)
    upgrade(pg_url)
    ensure_schema(pg_url)  # at head: nothing to do


def test_store_pages_is_idempotent(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", "flow-1")
    batch = [page("https://example.com/a", article("https://example.com/a"))]

    with transaction(migrated_db) as session:
        first = articles.store_pages(session, run_id, batch)
    with transaction(migrated_db) as session:
        second = articles.store_pages(session, run_id, batch)

    assert (first.new, first.already_stored) == (1, 0)
    assert (second.new, second.already_stored) == (0, 1)
    assert count(migrated_db, Article) == 1
    assert count(migrated_db, ArticleAuthor) == 2
    assert count(migrated_db, Fetch) == 2  # every attempt is recorded


def test_store_pages_links_same_text_under_another_url_as_duplicate(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", None)
    with transaction(migrated_db) as session:
        articles.store_pages(
            session, run_id, [page("https://a.example/x", article("https://a.example/x"))]
        )

    with transaction(migrated_db) as session:
        counts = articles.store_pages(
            session, run_id, [page("https://b.example/y", article("https://b.example/y"))]
        )

    assert (counts.new, counts.duplicates) == (0, 1)
    assert count(migrated_db, Article) == 1
    with transaction(migrated_db) as session:
        assert articles.known_urls(session, ["https://b.example/y", "https://c.example/z"]) == {
            "https://b.example/y"
        }


def test_store_pages_shares_authors_and_tags_between_articles(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", None)
    other = "Another story entirely, about the harbour and its new ferry timetable. " * 10
    with transaction(migrated_db) as session:
        articles.store_pages(
            session,
            run_id,
            [
                page("https://example.com/1", article("https://example.com/1")),
                page("https://example.com/2", article("https://example.com/2", text=other)),
            ],
        )
    assert count(migrated_db, Article) == 2
    assert count(migrated_db, Author) == 2
    assert count(migrated_db, ArticleAuthor) == 4
    assert count(migrated_db, ArticleTag) == 4
    with transaction(migrated_db) as session:
        positions = session.execute(
            select(Author.name, ArticleAuthor.position)
            .join(ArticleAuthor, ArticleAuthor.author_id == Author.id)
            .order_by(ArticleAuthor.article_id, ArticleAuthor.position)
        ).all()
    assert [tuple(p) for p in positions[:2]] == [("Jane Doe", 0), ("John Roe", 1)]


def test_store_pages_records_failures_without_articles(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", None)
    with transaction(migrated_db) as session:
        counts = articles.store_pages(
            session, run_id, [page("https://example.com/missing", None, reason="http_404")]
        )
    assert counts.failed == 1
    assert count(migrated_db, Article) == 0
    with transaction(migrated_db) as session:
        assert session.scalar(select(Fetch.reason)) == "http_404"


def test_store_pages_writes_nothing_when_the_batch_fails(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", None)
    good = page("https://example.com/good", article("https://example.com/good"))
    naive_date = datetime(2026, 1, 1)  # noqa: DTZ001 - the fault under test
    naive = article("https://example.com/bad", text="other " * 40, published_at=naive_date)

    with pytest.raises(Exception, match="naive datetime"), transaction(migrated_db) as session:
        articles.store_pages(session, run_id, [good, page("https://example.com/bad", naive)])

    assert count(migrated_db, Article) == 0
    assert count(migrated_db, Fetch) == 0
    assert count(migrated_db, ArticleURL) == 0


def test_finish_run_records_counts_and_status(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", "00000000-0000-0000-0000-000000000001")
    with transaction(migrated_db) as session:
        runs.finish_run(
            session, run_id, RunCounts(feed_items=5, fetched=4, new=3, failed=1), "completed"
        )
    with transaction(migrated_db) as session:
        run = session.get_one(IngestRun, run_id)
        assert (run.status, run.feed_items, run.new, run.failed) == ("completed", 5, 3, 1)
        assert run.finished_at is not None and run.finished_at.tzinfo is not None
        assert run.started_at <= run.finished_at
