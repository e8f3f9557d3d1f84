"""End to end: real corpus pages and our own RSS + Atom feeds on a loopback server, ingested by the
``ingest-news`` flow into SQLite and PostgreSQL; a second run adds nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.engine import transaction
from storage.models import Article, ArticleAuthor, ArticleURL, Fetch, IngestRun, RawPageRow
from tasks.dedup.urls import canonicalize_url
from tasks.records import trafilatura_version
from tests.loopback import LoopbackServer, Route, atom_feed, corpus_pages, rss_feed, serve_pages

# Pages with ground truth of both kinds: full reviewed text, and snippets + title.
FULL_TEXT = [
    "al.com/al.com1",
    "wired.com/wired.com1",
    "nypost.com/nypost.com1",
    "space.com/space.com1",
]
SNIPPETS = [
    "phillyvoice.com/traf-phillyvoice.com-Sixers",
    "politico.com/traf-politico.com.retirement",
    "world.kbs.co.kr/traf-world.kbs.co.kr-Temperatures",
    "tag24.de/traf-d76bb5cda4cd4621a04c1b166d6cad9f",
]
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM = {"Content-Type": "application/atom+xml"}


def word_recall(expected: str, got: str) -> float:
    want = re.findall(r"\w+", expected.lower())
    have = set(re.findall(r"\w+", got.lower()))
    return sum(w in have for w in want) / max(1, len(want))


def write_sources(path: Path, entries: dict[str, list[str]]) -> Path:
    lines = ["sources:"]
    for name, feeds in entries.items():
        lines += [f"  - name: {name}", f"    feeds: [{', '.join(feeds)}]", "    interval: 600"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def loopback_env(monkeypatch: pytest.MonkeyPatch, migrated_db: str) -> str:
    db_url = migrated_db
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "3")
    return db_url


def test_ingest_stores_every_article_once(
    loopback_env: str, server: LoopbackServer, corpus: Path, tmp_path: Path
) -> None:
    from flows.ingest import ingest_news

    pages = corpus_pages(corpus, FULL_TEXT + SNIPPETS)
    urls = list(serve_pages(server, pages))
    # The last RSS item is also in the Atom feed: two sources racing for one article.
    server.routes["/rss.xml"] = Route(rss_feed("loop rss", urls[:5]), headers=RSS)
    server.routes["/atom.xml"] = Route(atom_feed("loop atom", urls[4:]), headers=ATOM)
    sources = write_sources(
        tmp_path / "sources.yaml",
        {"loop-rss": [server.url("/rss.xml")], "loop-atom": [server.url("/atom.xml")]},
    )

    reports = ingest_news(sources_path=str(sources))

    assert [r.status for r in reports] == ["completed", "completed"], reports
    assert sum(r.counts.new for r in reports) == len(pages), reports
    with transaction(loopback_env) as session:
        stored = {a.canonical_url: a for a in session.scalars(select(Article))}
        assert len(stored) == len(pages)
        for page, url in zip(pages, urls, strict=True):
            article = stored[canonicalize_url(url) or url]
            if "text" in page.expected:
                assert word_recall(str(page.expected["text"]), article.text) >= 0.9, url
            else:
                assert article.title == page.expected["title"], url
                for snippet in page.expected["must_contain"]:  # type: ignore[attr-defined]
                    assert snippet in article.text, (url, snippet)
            assert article.word_count > 50
            assert len(article.content_hash) == 64
        assert session.scalar(select(func.count()).select_from(ArticleAuthor))
        runs = session.scalars(select(IngestRun)).all()
        assert {r.status for r in runs} == {"completed"} and all(r.finished_at for r in runs)

    again = ingest_news(sources_path=str(sources))  # feeds unchanged: zero further work

    assert [r.status for r in again] == ["completed", "completed"]
    assert sum(r.counts.feed_items + r.counts.fetched + r.counts.new for r in again) == 0
    assert sum(r.counts.revised + r.counts.duplicates for r in again) == 0
    with transaction(loopback_env) as session:
        roots = session.scalar(
            select(func.count()).select_from(Article).where(Article.duplicate_of.is_(None))
        )
        assert roots == len(pages)  # distinct stories: one cluster each, no new ones

    # The RSS feed changes: its known URLs are skipped before fetching, only the new one is read.
    (extra,) = serve_pages(server, corpus_pages(corpus, ["pewresearch.org/pewresearch.org1"]))
    server.routes["/rss.xml"] = Route(rss_feed("loop rss", [*urls[:5], extra]), headers=RSS)
    third = ingest_news(source_names=["loop-rss"], sources_path=str(sources))

    assert (third[0].counts.feed_items, third[0].counts.already_stored) == (6, 5)
    assert (third[0].counts.fetched, third[0].counts.new) == (1, 1)
    with transaction(loopback_env) as session:
        feed_rows = session.scalars(select(Fetch).where(Fetch.kind == "feed")).all()
        assert len(feed_rows) == 5
        assert sum(f.detail == "unchanged since the last run" for f in feed_rows) == 2
    with transaction(loopback_env) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == len(pages) + 1
        aliases = {u.url: u.article_id for u in session.scalars(select(ArticleURL))}
        assert all(url in aliases for url in urls)
        assert len(set(aliases.values())) == len(pages) + 1
        page_fetches = session.scalar(
            select(func.count()).select_from(Fetch).where(Fetch.kind == "page")
        )
        assert page_fetches == len(pages) + 2  # the shared URL was fetched by both sources once


def one_rss_source(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
    pages: int,
) -> Path:
    """The settings for a loopback run into ``db_url``, the first ``pages`` full-text pages
    served with an RSS feed, and a sources file with that one feed."""
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    urls = list(serve_pages(server, corpus_pages(corpus, FULL_TEXT[:pages])))
    server.routes["/rss.xml"] = Route(rss_feed("loop rss", urls), headers=RSS)
    return write_sources(tmp_path / "sources.yaml", {"loop-rss": [server.url("/rss.xml")]})


def test_ingest_failure_closes_its_running_rows(
    sqlite_url: str,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import ingest_news
    from storage import runs

    sources = one_rss_source(monkeypatch, sqlite_url, server, corpus, tmp_path, pages=1)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(runs, "finish_run", broken)
    state = ingest_news(sources_path=str(sources), return_state=True)

    assert state.is_failed()
    with transaction(sqlite_url) as session:
        (run,) = session.scalars(select(IngestRun)).all()
        assert run.status == "failed" and run.finished_at is not None
        assert run.error and "database went away" in run.error


def test_boilerplate_learning_failure_does_not_fail_a_stored_batch(
    sqlite_url: str,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Learning runs in a SAVEPOINT of the batch's transaction: when it fails, only the learning
    is rolled back, and the run still completes and reports the stored articles."""
    from flows.ingest import ingest_news
    from storage import boilerplate as boilerplate_store

    sources = one_rss_source(monkeypatch, sqlite_url, server, corpus, tmp_path, pages=2)

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("lock timeout while learning")

    monkeypatch.setattr(boilerplate_store, "learn", broken)
    (report,) = ingest_news(sources_path=str(sources))

    assert report.status == "completed", report
    assert (report.counts.new, report.counts.failed) == (2, 0)
    assert "could not learn boilerplate" in caplog.text
    with transaction(sqlite_url) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 2
        (run,) = session.scalars(select(IngestRun)).all()
        assert run.status == "completed"


def test_ingest_publishes_a_summary_and_fails_past_the_threshold(
    sqlite_url: str,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    from flows.ingest import ingest_news
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    for key, value in {
        "NEWSFLOW_DATABASE_URL": sqlite_url,
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
        "NEWSFLOW_FAIL_SHARE": "0.5",  # one of two sources failing fails the run
    }.items():
        monkeypatch.setenv(key, value)
    urls = list(serve_pages(server, corpus_pages(corpus, FULL_TEXT[:1])))
    server.routes["/rss.xml"] = Route(
        rss_feed("loop rss", [*urls, server.url("/gone")]), headers=RSS
    )
    sources = write_sources(
        tmp_path / "sources.yaml",
        {"good": [server.url("/rss.xml")], "broken": [server.url("/missing.xml")]},
    )

    state = ingest_news(sources_path=str(sources), return_state=True)

    assert state.is_failed() and "1 of 2 source(s) failed" in (state.message or "")
    reports = state.result(raise_on_failure=False)
    assert isinstance(reports, list)
    assert [(r.source, r.status, r.counts.new) for r in reports] == [
        ("good", "completed", 1),
        ("broken", "failed", 0),
    ]
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["ingest-summary"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
            )
        )
    markdown = str(artifact.data)
    assert "| good | completed |" in markdown and "| broken | failed |" in markdown
    assert "http_404 1" in markdown  # failures by reason, per source


def test_ingest_keeps_raw_html_and_kills_a_slow_page(
    loopback_env: str,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import ingest_news
    from flows.reextract import reextract
    from flows.settings import Settings
    from tests.test_workers import link_paragraphs

    monkeypatch.setenv("NEWSFLOW_EXTRACT_TIMEOUT", "2")
    urls = list(serve_pages(server, corpus_pages(corpus, FULL_TEXT[:2])))
    server.routes["/links.html"] = Route(link_paragraphs(50_000).html)
    links = [urls[0], server.url("/links.html"), urls[1]]
    server.routes["/rss.xml"] = Route(rss_feed("loop rss", links), headers=RSS)
    sources = write_sources(tmp_path / "sources.yaml", {"loop-rss": [server.url("/rss.xml")]})

    (report,) = ingest_news(sources_path=str(sources))

    assert (report.status, report.counts.new, report.counts.failed) == ("completed", 2, 1)
    with transaction(loopback_env) as session:
        slow = session.scalars(select(Fetch).where(Fetch.url == links[1])).one()
        assert slow.reason == "extract_timeout"
        raw = session.scalars(select(RawPageRow)).all()
        assert len(raw) == 3 and {r.fetch_id for r in raw} == {
            f.id for f in session.scalars(select(Fetch).where(Fetch.kind == "page"))
        }
        articles = session.scalars(select(Article)).all()
        assert {(a.extractor, a.extractor_version) for a in articles} == {
            ("trafilatura", trafilatura_version())
        }

    counts = reextract(Settings())  # the same extractor on the same HTML: nothing changes

    assert (counts.examined, counts.unchanged, counts.changed) == (2, 2, 0)
