"""Revisions: recent articles are re-fetched conditionally; a changed text becomes the current one
and the old one an ``article_revisions`` row; an unchanged page changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import articles, revisions, runs
from storage.engine import transaction
from storage.models import Article, ArticleRevision, Fetch, IngestRun
from tasks.dedup.dedup import band_hashes, signature
from tasks.extract.extract import content_hash
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult, Recheck
from tests import dedup_fixtures as fx
from tests.loopback import LoopbackServer, Route, rss_feed

URL = "https://news.example/story"
RSS = {"Content-Type": "application/rss+xml"}


def page(text: str | None, reason: str = "ok") -> PageResult:
    fetch = FetchOutcome(url=URL, kind="page", reason=reason, started_at=datetime.now(UTC))
    if text is None:
        return PageResult(fetch=fetch, item=FeedItem(URL, URL))
    sig = signature(text)
    art = ExtractedArticle(
        url=URL,
        canonical_url=URL,
        text=text,
        content_hash=content_hash(text),
        title="Story",
        word_count=len(text.split()),
        minhash=sig,
        bands=tuple(band_hashes(sig)),
    )
    return PageResult(fetch=fetch, item=FeedItem(URL, URL), article=art)


def stored(db_url: str, text: str) -> tuple[int, Recheck]:
    with transaction(db_url) as session:
        run_id = runs.start_run(session, "news", None)
    with transaction(db_url) as session:
        articles.store_pages(session, run_id, [page(text)])
    with transaction(db_url) as session:
        (recheck,) = revisions.articles_to_recheck(
            session, "news", datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC), 10
        )
    return run_id, recheck


def revision_rows(db_url: str) -> list[tuple[str, str]]:
    with transaction(db_url) as session:
        rows = session.execute(select(ArticleRevision.content_hash, ArticleRevision.text)).all()
    return [(r[0], r[1]) for r in rows]


def test_apply_rechecks_keeps_the_old_text_as_a_revision(migrated_db: str) -> None:
    old, new = fx.article(1), fx.updated(fx.article(1), 1)
    run_id, recheck = stored(migrated_db, old)

    with transaction(migrated_db) as session:
        counts = revisions.apply_rechecks(session, run_id, [(recheck, page(new))])

    assert counts.revised == 1
    assert revision_rows(migrated_db) == [(content_hash(old), old)]
    with transaction(migrated_db) as session:
        (article,) = session.scalars(select(Article)).all()
        assert (article.text, article.content_hash) == (new, content_hash(new))
        assert article.revised_at is not None and article.checked_at is not None


@pytest.mark.parametrize("outcome", ["same-text", "not-modified", "gone"])
def test_apply_rechecks_without_a_new_text_changes_nothing(migrated_db: str, outcome: str) -> None:
    text = fx.article(2)
    run_id, recheck = stored(migrated_db, text)
    again = {
        "same-text": page(text),
        "not-modified": page(None, "not_modified"),
        "gone": page(None, "http_404"),
    }[outcome]

    with transaction(migrated_db) as session:
        counts = revisions.apply_rechecks(session, run_id, [(recheck, again)])

    assert counts.revised == 0 and counts.failed == (outcome == "gone")
    assert revision_rows(migrated_db) == []
    with transaction(migrated_db) as session:
        assert session.scalar(select(Article.content_hash)) == content_hash(text)
        assert session.scalar(select(func.count()).select_from(Fetch)) == 2


def test_apply_rechecks_refuses_a_text_that_is_another_articles(migrated_db: str) -> None:
    other = fx.article(4)
    run_id, recheck = stored(migrated_db, fx.article(3))
    with transaction(migrated_db) as session:
        articles.store_pages(
            session,
            run_id,
            [PageResult(page(other).fetch, FeedItem("https://x/2", "https://x/2"), _moved(other))],
        )

    with transaction(migrated_db) as session:
        counts = revisions.apply_rechecks(session, run_id, [(recheck, page(other))])

    assert counts.revised == 0 and revision_rows(migrated_db) == []


def _moved(text: str) -> ExtractedArticle:
    art = page(text).article
    assert art is not None
    return replace(art, url="https://x/2", canonical_url="https://x/2")


@pytest.mark.parametrize(("status", "gone"), [(404, True), (410, True), (503, False)])
def test_a_page_removed_at_recheck_is_marked_gone_and_not_checked_again(
    migrated_db: str, status: int, gone: bool
) -> None:
    run_id, recheck = stored(migrated_db, fx.article(6))
    removed = replace(
        page(None, f"http_{status}"),
        fetch=replace(page(None).fetch, reason=f"http_{status}", status_code=status),
    )

    with transaction(migrated_db) as session:
        counts = revisions.apply_rechecks(session, run_id, [(recheck, removed)])

    assert (counts.failed, counts.revised) == (1, 0)
    with transaction(migrated_db) as session:
        article = session.get_one(Article, recheck.article_id)
        assert (article.gone_at is not None) is gone
        assert article.text == fx.article(6)  # the text is kept
    later = datetime.now(UTC) + timedelta(hours=1)
    with transaction(migrated_db) as session:
        due = revisions.articles_to_recheck(session, "news", later - timedelta(1), later, 10)
    assert [r.article_id for r in due] == ([] if gone else [recheck.article_id])


def test_articles_to_recheck_respects_window_and_interval(migrated_db: str) -> None:
    run_id, recheck = stored(migrated_db, fx.article(5))
    now = datetime.now(UTC)
    with transaction(migrated_db) as session:
        revisions.apply_rechecks(session, run_id, [(recheck, page(None, "not_modified"))])

    with transaction(migrated_db) as session:
        just_checked = revisions.articles_to_recheck(session, "news", now - timedelta(1), now, 10)
    with transaction(migrated_db) as session:
        too_old = revisions.articles_to_recheck(
            session, "news", now + timedelta(minutes=1), now + timedelta(hours=1), 10
        )
    with transaction(migrated_db) as session:
        due = revisions.articles_to_recheck(
            session, "news", now - timedelta(1), now + timedelta(hours=1), 10
        )

    assert (just_checked, too_old, [r.article_id for r in due]) == ([], [], [recheck.article_id])


@pytest.mark.slow
def test_ingest_records_a_revision_when_the_page_changes(
    sqlite_url: str,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import ingest_news
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    for key, value in {
        "NEWSFLOW_DATABASE_URL": sqlite_url,
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
        "NEWSFLOW_REVISION_INTERVAL_HOURS": "0",
        "NEWSFLOW_EXTRACT_WORKERS": "0",
    }.items():
        monkeypatch.setenv(key, value)
    captures = corpus / "web" / "updated" / "taz-selbstbestimmungsgesetz"
    server.routes["/taz/story"] = Route((captures / "2023-04-28.html").read_bytes())
    server.routes["/rss.xml"] = Route(rss_feed("taz", [server.url("/taz/story")]), headers=RSS)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: taz\n    feeds: [{server.url('/rss.xml')}]\n    interval: 600\n"
    )

    ingest_news(sources_path=str(sources))
    server.routes["/taz/story"] = Route((captures / "2024-10-23.html").read_bytes())
    changed = ingest_news(sources_path=str(sources))
    unchanged = ingest_news(sources_path=str(sources))

    assert (changed[0].counts.revised, unchanged[0].counts.revised) == (1, 0)
    with transaction(sqlite_url) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        assert session.scalar(select(func.count()).select_from(ArticleRevision)) == 1
        assert [r.revised for r in session.scalars(select(IngestRun).order_by(IngestRun.id))] == [
            0,
            1,
            0,
        ]
