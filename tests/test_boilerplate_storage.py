"""Per-source boilerplate in storage (storage/boilerplate.py) on SQLite and PostgreSQL, through the
ingest flow against a loopback server, and as operators see it (``newsflow boilerplate``)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import articles, runs
from storage import boilerplate as store
from storage.engine import transaction
from storage.models import Article, RecentPageLine
from tasks.dedup import boilerplate
from tasks.dedup.boilerplate import Rule
from tasks.dedup.dedup import band_hashes, best_match, signature
from tasks.extract.extract import content_hash
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult
from tests.boilerplate_site import CALLOUT, NEWSLETTER, NOISE, page_html, page_text, story
from tests.loopback import LoopbackServer, Route, rss_feed

RULE = Rule()
DECIDE = functools.partial(boilerplate.recurring, rule=RULE)
NEAR = articles.NearDup(matcher=functools.partial(best_match, threshold=0.5))
DAY = datetime(2026, 11, 1, 12, tzinfo=UTC)


def site_page(
    url: str, text: str, learned: frozenset[str] = frozenset(), day: int = 0
) -> PageResult:
    """A stored page of the site as extraction would hand it over (stripped of ``learned``)."""
    keys = boilerplate.line_keys(text)
    text = boilerplate.strip(text, learned)
    sig = signature(text)
    article = ExtractedArticle(
        url=url,
        canonical_url=url,
        text=text,
        content_hash=content_hash(text),
        published_at=DAY + timedelta(days=day),
        word_count=len(text.split()),
        minhash=sig,
        bands=tuple(band_hashes(sig)),
        line_keys=keys,
    )
    fetch = FetchOutcome(url=url, kind="page", reason="ok", final_url=url, started_at=DAY)
    return PageResult(fetch=fetch, item=FeedItem(url=url, canonical_url=url), article=article)


def store_and_learn(db_url: str, pages: list[PageResult], window: int = RULE.window) -> int:
    with transaction(db_url) as session:
        run_id = runs.start_run(session, "site", None)
    with transaction(db_url) as session:
        articles.store_pages(session, run_id, pages, near=NEAR)
    with transaction(db_url) as session:
        return store.learn(session, "site", boilerplate.observe(pages), DECIDE, window)


def stories(count: int, start: int = 0) -> list[PageResult]:
    return [
        site_page(f"https://news.example/{seed}", page_text(story(seed)), day=seed)
        for seed in range(start, start + count)
    ]


def test_learn_stores_the_recurring_lines(migrated_db: str) -> None:
    learned = store_and_learn(migrated_db, stories(6))

    with transaction(migrated_db) as session:
        lines = store.learned_lines(session, "site")
    assert learned == len(NOISE)
    assert sorted(line.line for line in lines) == sorted(NOISE)
    assert {line.pages_seen for line in lines} == {6}
    with transaction(migrated_db) as session:
        assert store.learned_keys(session, "site") == {boilerplate.line_key(n) for n in NOISE}


def test_learn_waits_for_min_pages_distinct_stories(migrated_db: str) -> None:
    assert store_and_learn(migrated_db, stories(2)) == 0
    with transaction(migrated_db) as session:
        assert store.learned_keys(session, "site") == frozenset()

    assert store_and_learn(migrated_db, stories(1, start=2)) == len(NOISE)


def test_learn_counts_near_duplicate_copies_as_one_story(migrated_db: str) -> None:
    copied = story(100)
    copies = [
        site_page(f"https://news.example/copy-{h}", page_text([*copied, f"Updated at {h}:00."]))
        for h in (9, 11, 13, 15)
    ]

    assert store_and_learn(migrated_db, [*copies, *stories(1)]) == 0
    with transaction(migrated_db) as session:  # stored, linked into one story cluster
        roots = select(func.count()).where(Article.duplicate_of.is_(None))
        assert session.scalar(roots) == 2
    assert store_and_learn(migrated_db, stories(1, start=1)) == len(NOISE)
    with transaction(migrated_db) as session:
        assert not {line.line for line in store.learned_lines(session, "site")} & set(copied)


def test_learn_refreshes_lines_seen_again(migrated_db: str) -> None:
    store_and_learn(migrated_db, stories(3))
    with transaction(migrated_db) as session:
        learned = store.learned_keys(session, "site")
    with transaction(migrated_db) as session:
        before = {line.line: line for line in store.learned_lines(session, "site")}

    later = [
        site_page(f"https://news.example/{s}", page_text(story(s)), learned) for s in range(3, 5)
    ]
    assert store_and_learn(migrated_db, later) == 0

    with transaction(migrated_db) as session:
        after = {line.line: line for line in store.learned_lines(session, "site")}
    assert after[CALLOUT].pages_seen == 5
    assert after[CALLOUT].last_seen_at > before[CALLOUT].last_seen_at
    assert after[CALLOUT].first_seen_at == before[CALLOUT].first_seen_at


def test_learn_keeps_only_the_window_of_recent_articles(migrated_db: str) -> None:
    store_and_learn(migrated_db, stories(6), window=4)

    with transaction(migrated_db) as session:
        kept = session.scalars(select(func.distinct(RecentPageLine.article_id))).all()
    assert len(kept) == 4


def test_learned_lines_are_kept_per_source(migrated_db: str) -> None:
    store_and_learn(migrated_db, stories(3))

    with transaction(migrated_db) as session:
        assert store.learned_keys(session, "other") == frozenset()
    with transaction(migrated_db) as session:
        assert store.learned_lines(session, "other") == []


# End to end: the site's pages in one feed; with batches of 3, the first batch teaches the noise and
# the second batch is stored without it.
@pytest.fixture
def site_server(server: LoopbackServer) -> LoopbackServer:
    urls = [server.url(f"/story-{seed}.html") for seed in range(6)]
    for seed, url in enumerate(urls):
        server.routes[f"/story-{seed}.html"] = Route(page_html(f"Story {seed}", url, story(seed)))
    server.routes["/rss.xml"] = Route(
        rss_feed("site", urls), headers={"Content-Type": "application/rss+xml"}
    )
    return server


def write_sources(path: Path, feed: str) -> Path:
    path.write_text(f"sources:\n  - name: site\n    feeds: [{feed}]\n    interval: 600\n")
    return path


@pytest.fixture
def site_env(monkeypatch: pytest.MonkeyPatch, migrated_db: str) -> str:
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "3")
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "0")
    return migrated_db


def test_ingest_strips_boilerplate_learned_from_earlier_batches(
    site_env: str, site_server: LoopbackServer, tmp_path: Path
) -> None:
    from flows.ingest import ingest_news

    sources = write_sources(tmp_path / "sources.yaml", site_server.url("/rss.xml"))

    (report,) = ingest_news(sources_path=str(sources))

    assert (report.status, report.counts.new) == ("completed", 6)
    with transaction(site_env) as session:
        texts = {a.url.rsplit("/", 1)[1]: a.text for a in session.scalars(select(Article))}
    for seed in range(6):
        text = texts[f"story-{seed}.html"]
        assert (CALLOUT in text, NEWSLETTER in text) == (seed < 3, seed < 3), seed
        assert story(seed)[0] in text
    with transaction(site_env) as session:
        learned = [line.line for line in store.learned_lines(session, "site")]
    assert any(CALLOUT in line for line in learned), learned


def test_cli_boilerplate_lists_learned_lines(sqlite_url: str, tmp_path: Path) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    store_and_learn(sqlite_url, stories(3))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env["NEWSFLOW_DATABASE_URL"] = sqlite_url
    newsflow = Path(sys.executable).with_name("newsflow")

    shown = subprocess.run(
        [str(newsflow), "boilerplate", "site"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    other = subprocess.run(
        [str(newsflow), "boilerplate", "other"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert "Reader Comments" in shown.stdout and "Get the day's top stories" in shown.stdout
    assert (other.returncode, other.stdout.strip()) == (0, "no boilerplate learned yet")


def test_steps_learned_is_empty_when_learning_is_off(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import steps
    from flows.settings import Settings

    store_and_learn(migrated_db, stories(3))
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)

    with transaction(migrated_db) as session:
        assert steps._learned(Settings(), "site") == store.learned_keys(session, "site") != set()
    monkeypatch.setenv("NEWSFLOW_BOILERPLATE", "false")
    assert steps._learned(Settings(), "site") == frozenset()
