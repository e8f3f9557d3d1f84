"""Hostile documents through the ``ingest-news`` flow on SQLite and PostgreSQL (issue 16): a feed
with forbidden character references, NULs from ``&#0;`` and a 6 KB item URL, next to a good
sitemap, stores what is storable, records every document's fetch, and stores the same thing on
both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.engine import transaction
from storage.models import Article, FeedItemRow, Fetch, IngestRun
from tests.loopback import LoopbackServer, Route

WORDS = " ".join(f"word{i}" for i in range(80))
BARE_PAGE = (  # no <title>: the article takes the feed's
    "<html><body><article><p>The council met on a rainy evening and agreed on a plan. "
    f"{WORDS}.</p><p>Residents spoke for hours about roads and schools. {WORDS}.</p>"
    "</article></body></html>"
).encode()
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, migrated_db: str) -> str:
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_RETRIES", "0")
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "1")  # documents parsed in the helper too
    return migrated_db


def test_ingest_hostile_feed_stores_the_rest_and_records_every_document(
    env: str, server: LoopbackServer, tmp_path: Path
) -> None:
    from flows.ingest import ingest_news

    pages = [server.url(f"/local/story-{n}") for n in range(3)]
    for n, url in enumerate(pages):
        server.routes[url.removeprefix(server.base)] = Route(
            BARE_PAGE.replace(b"rainy", b"r%d" % n)
        )
    long = server.url("/local/long?q=" + "x" * 6000)
    items = (
        f"<item><title>Council&#0; votes &#xD800;</title><link>{pages[0]}</link>"
        "<author>Ann&#0; Lee</author><category>Lo&#0;cal</category></item>"
        f"<item><title>Too long</title><link>{long}</link></item>"
        f"<item><title>Big &#99999999; ref</title><link>{pages[1]}</link></item>"
    )
    server.routes["/feed.xml"] = Route(
        f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode(),
        headers={"Content-Type": "application/rss+xml"},
    )
    server.routes["/sitemap.xml"] = Route(
        f'<urlset xmlns="{SITEMAP_NS}"><url><loc>http://[::1/x</loc></url>'
        f"<url><loc>{pages[2]}</loc></url></urlset>".encode(),
        headers={"Content-Type": "application/xml"},
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: hostile\n    feeds: [{server.url('/feed.xml')}]\n"
        f"    sitemaps: [{server.url('/sitemap.xml')}]\n    interval: 600\n",
        encoding="utf-8",
    )

    (report,) = ingest_news(sources_path=str(sources))

    assert report.status == "completed", report.errors
    assert report.counts.new == 3
    with transaction(env) as session:
        titles = {url: title for url, title in session.execute(select(Article.url, Article.title))}
        assert titles[pages[0]] == "Council votes"
        assert titles[pages[1]] == "Big ref"
        fetches = {f.url: f for f in session.scalars(select(Fetch).where(Fetch.kind == "feed"))}
        assert fetches[server.url("/feed.xml")].reason == "ok"
        assert "url_too_long: 1" in (fetches[server.url("/feed.xml")].detail or "")
        assert "invalid_url: 1" in (fetches[server.url("/sitemap.xml")].detail or "")
        rows = session.scalars(select(FeedItemRow).where(FeedItemRow.url == pages[0])).all()
        assert [(r.title, r.author, r.categories) for r in rows] == [
            ("Council votes", "Ann Lee", '["Local"]')
        ]
        assert session.scalars(select(IngestRun.status)).all() == ["completed"]
        stored = session.scalars(select(FeedItemRow.url)).all()
        assert all(len(url) <= 2048 for url in stored)
