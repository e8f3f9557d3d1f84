"""Source kinds: every feed and sitemap of the shared corpus through ``parse_document`` (expected
items computed independently with lxml), sitemap indexes followed through a real loopback server
(missing child, loop, depth), gzip, URL lists, kind detection and override, caps and filters."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from lxml import etree

from tasks.dedup.urls import canonicalize_url
from tasks.discover.discover import detect_kind, parse_document, read_feeds
from tasks.discover.feeds import FeedParseError
from tasks.discover.sitemaps import SitemapError, gunzip, parse_sitemap
from tasks.discover.urllists import parse_url_list, read_local
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tasks.records import FetchOutcome, ItemFilter
from tests.loopback import LoopbackServer, Route
from tests.test_discover import corpus_params

BASE = "https://news.example.test/"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
XML = {"Content-Type": "application/xml"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _date(text: str | None) -> datetime | None:
    """RFC 822 or ISO 8601, as UTC; ``None`` for anything else."""
    text = (text or "").strip()
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _entry_link(entry: Any, url: str) -> str | None:
    for child in entry:
        if _local(child) != "link":
            continue
        href = child.get("href")
        if href is not None and child.get("rel", "alternate") == "alternate":
            return urljoin(str(child.base or url), str(href).strip())
        if href is None and (child.text or "").strip():
            return urljoin(url, str(child.text).strip())
    for child in entry:
        text = (child.text or "").strip()
        if _local(child) == "guid" and child.get("isPermaLink", "true") == "true":
            return text if text.startswith("http") else None
    return None


def _first_date(entry: Any) -> datetime | None:
    dates = {_local(c): _date(c.text) for c in entry}
    for name in ("pubDate", "published", "date", "issued", "updated", "modified"):
        if dates.get(name):
            return dates[name]
    return None


def expected_feed(path: Path, url: str) -> tuple[list[str], datetime | None]:
    """The feed's distinct canonical item links and its first item's date, read with lxml."""
    root = etree.fromstring(path.read_bytes().lstrip(), _PARSER)
    links: list[str] = []
    first_date = None
    for entry in root.iter():
        if _local(entry) not in ("item", "entry"):
            continue
        link = _entry_link(entry, url)
        canonical = canonicalize_url(link) if link else None
        if canonical is None or canonical in links:
            continue
        if not links:
            first_date = _first_date(entry)
        links.append(canonical)
    return links, first_date


def expected_sitemap(path: Path) -> tuple[str, list[str], datetime | None]:
    """Root name, distinct canonical ``<loc>`` URLs, and the first entry's date (news
    publication date, else lastmod), by XPath."""
    tree = etree.fromstring(path.read_bytes().lstrip(), _PARSER)
    ns = {"s": SITEMAP_NS, "n": NEWS_NS}
    entries = tree.xpath("/s:urlset/s:url | /s:sitemapindex/s:sitemap", namespaces=ns)
    locs: list[str] = []
    first = None
    for entry in entries:
        canonical = canonicalize_url(entry.xpath("string(s:loc)", namespaces=ns).strip())
        if canonical is None or canonical in locs:
            continue
        if not locs:
            news = entry.xpath("string(.//*[local-name()='publication_date'])").strip()
            first = _date(news or entry.xpath("string(s:lastmod)", namespaces=ns))
        locs.append(canonical)
    return _local(tree), locs, first


@pytest.mark.parametrize("rel", corpus_params("rss", "atom"))
def test_parse_document_corpus_feed_yields_its_items(rel: str | None, corpus: Path) -> None:
    assert rel is not None
    path = corpus / "web" / rel
    url = BASE + path.name
    links, first_date = expected_feed(path, url)

    doc = parse_document(path.read_bytes(), url)

    assert doc.kind == "feed"
    assert [i.canonical_url for i in doc.items] == links
    if first_date is not None:  # a non-standard date string is not checked here
        assert doc.items[0].published_at == first_date


@pytest.mark.parametrize("rel", corpus_params("sitemaps"))
def test_parse_document_corpus_sitemap_yields_its_entries(rel: str | None, corpus: Path) -> None:
    assert rel is not None
    path = corpus / "web" / rel
    root, locs, first_date = expected_sitemap(path)

    doc = parse_document(path.read_bytes(), BASE + path.name)

    assert doc.kind == root
    found = doc.items if root == "urlset" else doc.children
    got = [i.canonical_url for i in doc.items] if root == "urlset" else doc.children
    assert [canonicalize_url(u) for u in got] == locs
    if root == "urlset" and locs:
        assert doc.items[0].published_at == first_date
    assert len(found) == len(locs)


@pytest.mark.parametrize("rel", corpus_params("malformed"))
def test_parse_document_malformed_corpus_file_gives_entries_or_reason(
    rel: str | None, corpus: Path
) -> None:
    assert rel is not None
    path = corpus / "web" / rel
    try:
        doc = parse_document(path.read_bytes(), BASE + path.name)
    except (FeedParseError, SitemapError) as exc:
        assert exc.reason in ("feed_unparseable", "sitemap_unparseable")
        return
    assert doc.items or doc.children or doc.warning


def test_parse_sitemap_news_sitemap_with_raw_ampersand_keeps_every_entry(corpus: Path) -> None:
    path = corpus / "web" / "malformed" / "jobcareerx-news-sitemap-unescaped-amp.xml"
    body = path.read_bytes()
    distinct = {line.strip() for line in body.decode().splitlines() if "<loc>" in line}

    sitemap = parse_sitemap(body, BASE)

    assert len(sitemap.items) == len(distinct)
    assert sitemap.warning and "EntityRef" in sitemap.warning
    assert sitemap.items[0].title and " & " in sitemap.items[0].title


def test_parse_sitemap_index_with_bare_urls_lists_children(corpus: Path) -> None:
    body = (corpus / "web" / "malformed" / "sitemap-index-bare-loc-text.xml").read_bytes()
    bare = etree.fromstring(body).xpath("//*[local-name()='sitemap']/text()")

    sitemap = parse_sitemap(body, BASE)

    assert sitemap.kind == "sitemapindex"
    assert sitemap.children == [u.strip() for u in bare if u.strip()]


def _urlset(urls: list[str], title: str = "") -> bytes:
    entries = "".join(
        f"<url><loc>{u}</loc><lastmod>2026-11-0{i % 9 + 1}</lastmod>"
        f"<news:news><news:title>{title}{i}</news:title>"
        f"<news:publication_date>2026-10-0{i % 9 + 1}T08:00:00+02:00</news:publication_date>"
        f"<news:keywords>politics, world</news:keywords></news:news></url>"
        for i, u in enumerate(urls)
    )
    return (
        f'<?xml version="1.0"?><urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">'
        f"{entries}</urlset>"
    ).encode()


def _index(children: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return f'<sitemapindex xmlns="{SITEMAP_NS}">{entries}</sitemapindex>'.encode()


def test_parse_sitemap_news_fields_become_item_title_date_and_categories() -> None:
    sitemap = parse_sitemap(_urlset([BASE + "a"], title="Headline "), BASE + "news.xml")

    (item,) = sitemap.items
    assert item.title == "Headline 0"
    assert item.published_at == datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    assert item.updated_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert item.categories == ("politics", "world")


def test_parse_document_gzip_sitemap_is_inflated() -> None:
    doc = parse_document(gzip.compress(_urlset([BASE + "a", BASE + "b"])), BASE + "s.xml.gz")

    assert [i.url for i in doc.items] == [BASE + "a", BASE + "b"]


def test_gunzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")

    with pytest.raises(SitemapError) as excinfo:
        gunzip(bomb, limit=1_000_000)
    assert excinfo.value.reason == "decompression_limit"


def test_parse_sitemap_entity_declarations_are_not_expanded() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://news.example.test/x?q=&b;</loc></url></urlset>"
    )

    sitemap = parse_sitemap(body, BASE)

    assert all("aaaaaaaaaa" not in item.url for item in sitemap.items)


def test_parse_sitemap_caps_entries_with_a_warning() -> None:
    urls = [f"{BASE}a/{i}" for i in range(100)]

    sitemap = parse_sitemap(_urlset(urls), BASE, limit=10)

    assert [i.url for i in sitemap.items] == urls[:10]
    assert sitemap.warning and "more than 10" in sitemap.warning


def test_parse_document_huge_feed_is_capped() -> None:
    items = "".join(f"<item><link>{BASE}a/{i}</link></item>" for i in range(100_000))
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()

    doc = parse_document(body, BASE + "feed", limit=500)

    assert [i.url for i in doc.items] == [f"{BASE}a/{i}" for i in range(500)]
    assert doc.warning and "the rest skipped" in doc.warning


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(b"\n\n<?xml version='1.0'?><!-- x --><urlset/>", "sitemap", id="urlset"),
        pytest.param(b"<ns0:sitemapindex xmlns:ns0='x'/>", "sitemap", id="prefixed-index"),
        pytest.param(b"<?xml version='1.0'?><rss version='2.0'/>", "feed", id="rss"),
        pytest.param(b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "feed", id="atom"),
        pytest.param(b"# list\n\nhttps://a.test/1\n", "urls", id="url-list"),
        pytest.param(b"<html><body>no feed</body></html>", "feed", id="html"),
    ],
)
def test_detect_kind_reads_the_root(body: bytes, kind: str) -> None:
    assert detect_kind(body) == kind


def test_parse_url_list_skips_comments_blanks_and_repeats() -> None:
    body = b"# news\nhttps://a.test/1\n\n  https://a.test/2  trailing note\n/rel\nftp://x\nhttps://a.test/1\n"

    items = parse_url_list(body, "https://a.test/list.txt").items

    assert [i.url for i in items] == ["https://a.test/1", "https://a.test/2", "https://a.test/rel"]
    assert {i.feed_url for i in items} == {"https://a.test/list.txt"}


def test_read_local_file_url_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"https://a.test/1\n")

    outcome = read_local(f"file:{path}")
    missing = read_local(f"file:{tmp_path / 'nope.txt'}")

    assert (outcome.reason, outcome.body) == ("ok", b"https://a.test/1\n")
    assert missing.reason == "file_error"


def test_read_feeds_kind_override_reads_a_text_list_that_looks_like_xml() -> None:
    body = b"https://a.test/1\n"
    outcome = FetchOutcome("https://a.test/l", "feed", "ok", body=body)

    read = read_feeds([outcome], 10, kinds={"https://a.test/l": "sitemap"})

    assert read.items == [] and read.errors == ["https://a.test/l: sitemap_unparseable"]


def test_read_feeds_screen_filters_before_the_limit() -> None:
    urls = [f"{BASE}{'video' if i % 2 else 'news'}/{i}" for i in range(20)]
    outcome = FetchOutcome(BASE + "s.xml", "feed", "ok", body=_urlset(urls))

    read = read_feeds(
        [outcome], 5, screen=lambda item: None if "/news/" in item.url else ItemFilter.URL_FILTERED
    )

    assert [i.url for i in read.items] == [u for u in urls if "/news/" in u][:5]


def _fetcher(server: LoopbackServer) -> Any:
    config = FetchConfig(
        user_agent="newsflow-test",
        delay=0,
        retries=0,
        network_policy=NetworkPolicy(allow_all=True),
        robots=False,
    )
    return lambda urls: fetch_pages(urls, config, kind="feed")


def _read_index(server: LoopbackServer, path: str, limit: int = 100, depth: int = 3) -> Any:
    fetch = _fetcher(server)
    return read_feeds(fetch([server.url(path)]), limit, fetch=fetch, max_depth=depth)


def test_read_feeds_index_follows_children_and_reports_a_missing_one(
    server: LoopbackServer,
) -> None:
    server.routes["/index.xml"] = Route(
        _index([server.url("/a.xml"), server.url("/gone.xml"), server.url("/b.xml.gz")]),
        headers=XML,
    )
    server.routes["/a.xml"] = Route(_urlset([BASE + "1", BASE + "2"]), headers=XML)
    server.routes["/b.xml.gz"] = Route(
        gzip.compress(_urlset([BASE + "2", BASE + "3"])),
        headers={"Content-Type": "application/x-gzip"},
    )

    read = _read_index(server, "/index.xml")

    assert [i.url for i in read.items] == [BASE + "1", BASE + "2", BASE + "3"]
    assert read.feeds_ok == 1
    assert read.errors == [f"{server.url('/gone.xml')}: http_404"]
    assert [o.url for o in read.outcomes] == [
        server.url(p) for p in ("/index.xml", "/a.xml", "/gone.xml", "/b.xml.gz")
    ]
    assert read.states == []  # an index is re-read every run: its children change under it


def test_read_feeds_index_loop_fetches_each_sitemap_once(server: LoopbackServer) -> None:
    server.routes["/i1.xml"] = Route(_index([server.url("/i2.xml")]), headers=XML)
    server.routes["/i2.xml"] = Route(
        _index([server.url("/i1.xml"), server.url("/urls.xml")]), headers=XML
    )
    server.routes["/urls.xml"] = Route(_urlset([BASE + "x"]), headers=XML)

    read = _read_index(server, "/i1.xml")

    assert [i.url for i in read.items] == [BASE + "x"]
    assert sorted(server.hits) == ["/i1.xml", "/i2.xml", "/urls.xml"]


def test_read_feeds_index_nesting_is_bounded(server: LoopbackServer) -> None:
    for level in range(5):
        server.routes[f"/l{level}.xml"] = Route(
            _index([server.url(f"/l{level + 1}.xml")]), headers=XML
        )

    read = _read_index(server, "/l0.xml", depth=2)

    assert server.hits == ["/l0.xml", "/l1.xml", "/l2.xml"]
    assert read.errors == ["sitemap indexes nested deeper than 2 levels"]


def test_read_feeds_without_fetcher_lists_children_as_pending() -> None:
    outcome = FetchOutcome(BASE + "i.xml", "feed", "ok", body=_index([BASE + "c.xml"]))

    read = read_feeds([outcome], 10)

    assert read.pending == [BASE + "c.xml"] and read.items == []


def test_read_feeds_index_child_of_another_kind_is_detected(server: LoopbackServer) -> None:
    from tests.loopback import atom_feed

    server.routes["/index.xml"] = Route(_index([server.url("/atom.xml")]), headers=XML)
    server.routes["/atom.xml"] = Route(atom_feed("blog", [BASE + "post"]), headers=XML)

    read = _read_index(server, "/index.xml")

    assert [(i.url, i.title, i.feed_url) for i in read.items] == [
        (BASE + "post", "Entry 0", server.url("/atom.xml"))
    ]
