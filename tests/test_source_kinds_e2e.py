"""End to end on SQLite and PostgreSQL: a sitemap index (nested, one child gzip'd) and URL lists
(HTTP and ``file:``) ingested by the ``ingest-news`` flow like feeds; ``feed_items`` rows and the
article's fallback to feed metadata with its ``*_source`` columns; WARC and sitemap backfills."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.engine import transaction
from storage.models import Article, ArticleAuthor, Author, FeedItemRow, Fetch, IngestRun
from tasks.dedup.urls import canonicalize_url
from tests.loopback import LoopbackServer, Route, corpus_pages, serve_pages

PAGES = [
    "al.com/al.com1",
    "wired.com/wired.com1",
    "nypost.com/nypost.com1",
    "space.com/space.com1",
]
XML = {"Content-Type": "application/xml"}
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
WORDS = " ".join(f"word{i}" for i in range(80))
BARE_PAGE = (
    "<html><body><article><p>The council met on a rainy evening and agreed on a plan. "
    f"{WORDS}.</p><p>Residents spoke for hours about roads and schools. {WORDS}.</p>"
    "</article></body></html>"
).encode()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, migrated_db: str) -> str:
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "2")
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "0")
    return migrated_db


def urlset(urls: list[str]) -> bytes:
    entries = "".join(
        f"<url><loc>{u}</loc><lastmod>2026-11-0{i + 1}</lastmod></url>" for i, u in enumerate(urls)
    )
    return f'<urlset xmlns="{SITEMAP_NS}">{entries}</urlset>'.encode()


def index(children: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return f'<sitemapindex xmlns="{SITEMAP_NS}">{entries}</sitemapindex>'.encode()


def write_sources(path: Path, body: str) -> Path:
    path.write_text("sources:\n" + body, encoding="utf-8")
    return path


def test_ingest_sitemap_index_and_url_lists_like_feeds(
    env: str, server: LoopbackServer, corpus: Path, tmp_path: Path
) -> None:
    from flows.ingest import ingest_news

    urls = list(serve_pages(server, corpus_pages(corpus, PAGES)))
    server.routes["/sitemap_index.xml"] = Route(
        index([server.url("/nested.xml"), server.url("/missing.xml")]), headers=XML
    )
    server.routes["/nested.xml"] = Route(index([server.url("/news.xml.gz")]), headers=XML)
    server.routes["/news.xml.gz"] = Route(
        gzip.compress(urlset(urls[:2])), headers={"Content-Type": "application/gzip"}
    )
    server.routes["/list.txt"] = Route(
        f"# today\n{urls[2]}\n".encode(), headers={"Content-Type": "text/plain"}
    )
    local = tmp_path / "list.txt"
    local.write_text(f"{urls[3]}\n{urls[0]}\n", encoding="utf-8")
    sources = write_sources(
        tmp_path / "sources.yaml",
        f"  - name: loop-sitemap\n    sitemaps: [{server.url('/sitemap_index.xml')}]\n"
        "    interval: 600\n"
        f"  - name: loop-lists\n    urls: [{server.url('/list.txt')}, 'file:{local}']\n"
        "    interval: 600\n",
    )

    reports = {r.source: r for r in ingest_news(sources_path=str(sources))}

    assert reports["loop-sitemap"].status == "completed"
    assert reports["loop-sitemap"].errors == [f"{server.url('/missing.xml')}: http_404"]
    assert reports["loop-lists"].status == "completed", reports["loop-lists"].errors
    assert sum(r.counts.new for r in reports.values()) == len(urls)
    with transaction(env) as session:
        stored = set(session.scalars(select(Article.canonical_url)))
        assert stored == {canonicalize_url(u) for u in urls}
        documents = set(session.scalars(select(Fetch.url).where(Fetch.kind == "feed")))
        assert server.url("/news.xml.gz") in documents and f"file:{local}" in documents
        rows = session.scalars(select(FeedItemRow)).all()
        assert len(rows) == 5  # 2 sitemap + 3 list entries (urls[0] in both sources)
        assert all(row.article_id is not None for row in rows)
        dated = {r.url: r.published_at for r in rows if r.feed_url == server.url("/news.xml.gz")}
        assert dated == {
            urls[0]: datetime(2026, 11, 1, tzinfo=UTC),
            urls[1]: datetime(2026, 11, 2, tzinfo=UTC),
        }


def test_ingest_article_falls_back_to_feed_title_date_and_author(
    env: str, server: LoopbackServer, corpus: Path, tmp_path: Path
) -> None:
    from flows.ingest import ingest_news

    (full,) = serve_pages(server, corpus_pages(corpus, ["al.com/al.com1"]))
    server.routes["/local/council-meeting"] = Route(BARE_PAGE)
    bare = server.url("/local/council-meeting")
    date = datetime(2026, 11, 3, 18, 30, tzinfo=UTC)
    items = "".join(
        f"<item><title>Feed title {i}</title><link>{link}</link>"
        f"<pubDate>{format_datetime(date)}</pubDate><dc:creator>Jane Roe</dc:creator>"
        "<category>Local</category><description>&lt;b&gt;Council&lt;/b&gt; news</description>"
        f"<guid>urn:item:{i}</guid></item>"
        for i, link in enumerate([bare, full])
    )
    server.routes["/feed.xml"] = Route(
        (
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>t</title>{items}</channel></rss>"
        ).encode(),
        headers={"Content-Type": "application/rss+xml"},
    )
    sources = write_sources(
        tmp_path / "sources.yaml",
        f"  - name: loop-feed\n    feeds: [{server.url('/feed.xml')}]\n    interval: 600\n"
        "    language: de\n",
    )

    (report,) = ingest_news(sources_path=str(sources))

    assert report.counts.new == 2, report
    with transaction(env) as session:
        article = session.scalars(select(Article).where(Article.url == bare)).one()
        assert (article.title, article.title_source) == ("Feed title 0", "feed")
        assert (article.published_at, article.date_source) == (date, "feed")
        assert article.authors_source == "feed"
        assert article.language == "de"
        names = session.scalars(
            select(Author.name).join(ArticleAuthor).where(ArticleAuthor.article_id == article.id)
        ).all()
        assert names == ["Jane Roe"]
        other = session.scalars(select(Article).where(Article.url == full)).one()
        assert other.title_source == "page" and other.title != "Feed title 1"
        row = session.scalars(select(FeedItemRow).where(FeedItemRow.url == bare)).one()
        assert (row.guid, row.author, row.summary) == ("urn:item:0", "Jane Roe", "Council news")
        assert (row.categories, row.article_id) == ('["Local"]', article.id)


def write_warc(path: Path, records: list[tuple[str, int, str, bytes]]) -> Path:
    """A gzip'd WARC of HTTP responses (url, status, content type, body), as crawlers write."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for url, status, content_type, body in records:
            headers = StatusAndHeaders(
                f"{status} OK", [("Content-Type", content_type)], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers
            )
            writer.write_record(record)
    return path


def test_backfill_warc_stores_pages_once_and_resumes(
    env: str, corpus: Path, tmp_path: Path
) -> None:
    from flows.backfill import backfill_news

    pages = corpus_pages(corpus, PAGES[:3])
    records = [
        (str(p.expected["url"]), 200, "text/html; charset=utf-8", p.html.read_bytes())
        for p in pages
    ]
    records += [
        ("https://example.test/robots.txt", 200, "text/plain", b"User-agent: *"),
        ("https://example.test/gone", 404, "text/html", b"<html>gone</html>"),
    ]
    warc = write_warc(tmp_path / "news.warc.gz", records)

    first = backfill_news(warcs=[str(warc)], source_name="cc-news")
    again = backfill_news(warcs=[str(warc)], source_name="cc-news")

    assert (first.status, first.counts.new, first.counts.feed_items) == ("completed", 3, 3)
    assert (again.counts.new, again.counts.already_stored, again.counts.fetched) == (0, 3, 0)
    with transaction(env) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 3
        runs = session.scalars(select(IngestRun).order_by(IngestRun.id)).all()
        assert [(r.status, r.new) for r in runs] == [("completed", 3), ("completed", 0)]
        page_fetches = session.scalars(select(Fetch).where(Fetch.kind == "page")).all()
        assert len(page_fetches) == 3 and all(f.article_id for f in page_fetches)


def test_backfill_sitemap_walks_the_index_and_fetches_pages(
    env: str, server: LoopbackServer, corpus: Path
) -> None:
    from flows.backfill import backfill_news

    urls = list(serve_pages(server, corpus_pages(corpus, PAGES[:3])))
    server.routes["/index.xml"] = Route(
        index([server.url("/2025.xml"), server.url("/2026.xml")]), headers=XML
    )
    server.routes["/2025.xml"] = Route(urlset(urls[:1]), headers=XML)
    server.routes["/2026.xml"] = Route(urlset(urls[1:]), headers=XML)

    report = backfill_news(sitemap=server.url("/index.xml"), source_name="history")

    assert (report.status, report.counts.new) == ("completed", 3), report
    with transaction(env) as session:
        assert session.scalar(select(func.count()).select_from(FeedItemRow)) == 3
