"""Hostile and broken documents, round two (issue 16): one malformed document or entry never
costs the source its other documents; no markup declaration reaches a parser wherever it sits;
every string taken from a feed is safe to store. Documents are served on 127.0.0.1, fetched by
:func:`tasks.fetch.fetch_pages` and read by :func:`tasks.discover.read_feeds`, as the
``discover-source`` task does."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence
from typing import Any

import pytest

from tasks.discover.discover import FeedsRead, read_feeds
from tasks.discover.feeds import parse_feed
from tasks.discover.sitemaps import parse_sitemap
from tasks.discover.xmlsafe import as_markup_safe, without_entity_declarations
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tests.loopback import LoopbackServer, Route, rss_feed

RSS = {"Content-Type": "application/rss+xml"}
XML = {"Content-Type": "application/xml"}
TEXT = {"Content-Type": "text/plain"}
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
GOOD = ["http://news.example.test/good/1", "http://news.example.test/good/2"]
CONFIG = FetchConfig(
    user_agent="newsflow-test/1 (+https://example.invalid)",
    network_policy=NetworkPolicy.parse("127.0.0.1/32"),
    delay=0,
    connect_timeout=0.5,
    read_timeout=1.0,
    total_timeout=5.0,
    retries=0,
    robots=False,
)


def rss(items: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0"><channel>'
        f"<title>T</title><link>http://news.example.test/</link>{items}</channel></rss>"
    ).encode()


def item(link: str, title: str = "A story", extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


def urlset(locs: Sequence[str]) -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<urlset xmlns="{SITEMAP_NS}">{entries}</urlset>'.encode()


def index(children: Sequence[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return f'<sitemapindex xmlns="{SITEMAP_NS}">{entries}</sitemapindex>'.encode()


def read(server: LoopbackServer, routes: dict[str, tuple[bytes, dict[str, str]]]) -> FeedsRead:
    """Serve the documents next to a good feed, fetch all (children too), read all: the good
    feed always comes through."""
    for path, (body, headers) in routes.items():
        server.routes[path] = Route(body, headers=headers)
    server.routes["/good.xml"] = Route(rss_feed("good", GOOD), headers=RSS)
    urls = [server.url(path) for path in routes] + [server.url("/good.xml")]
    result = read_feeds(
        fetch_pages(urls, CONFIG, kind="feed"),
        1000,
        fetch=lambda children: fetch_pages(children, CONFIG, kind="feed"),
    )
    assert set(GOOD) <= {i.url for i in result.items}
    return result


def outcome_of(result: FeedsRead, url: str) -> Any:
    (found,) = [o for o in result.outcomes if o.url == url]
    return found


# === family 1: one malformed document or entry never fails the source ==========================


@pytest.mark.parametrize(
    "ref",
    ["&#xD800;", "&#xDFFF;", "&#55296;", "&#99999999;", "&#x110000;", "&#" + "9" * 5000 + ";"],
)
def test_read_feeds_forbidden_character_reference_keeps_the_feed(
    server: LoopbackServer, ref: str
) -> None:
    body = rss(item("http://news.example.test/c/1", f"Bad {ref} ref") + item(GOOD[0] + "?x=1"))

    result = read(server, {"/refs.xml": (body, RSS)})

    outcome = outcome_of(result, server.url("/refs.xml"))
    assert outcome.reason == "ok"
    titles = {i.url: i.title for i in result.items}
    assert titles["http://news.example.test/c/1"] == "Bad ref"


def test_parse_feed_surrogate_pair_written_as_two_references_is_joined() -> None:
    body = rss(item("http://news.example.test/e/1", "Smile &#xD83D;&#xDE00; &#55357;&#56832;"))

    (found,) = parse_feed(body, "http://news.example.test/feed").items

    assert found.title == "Smile \U0001f600 \U0001f600"


@pytest.mark.parametrize("kind", ["sitemap", "urls", "feed"])
def test_read_feeds_broken_ipv6_authority_skips_only_that_entry(
    server: LoopbackServer, kind: str
) -> None:
    bad, good = "http://[::1/x", "http://news.example.test/v6/ok"
    body, headers = {
        "sitemap": (urlset([bad, good]), XML),
        "urls": (f"{bad}\n{good}\n".encode(), TEXT),
        "feed": (rss(item(bad) + item(good)), RSS),
    }[kind]

    result = read(server, {"/doc": (body, headers)})

    outcome = outcome_of(result, server.url("/doc"))
    assert outcome.reason == "ok"
    assert good in {i.url for i in result.items}
    if kind != "feed":  # feedparser drops a link it cannot resolve before we see it
        assert "invalid_url: 1" in (outcome.detail or "")


def test_read_feeds_bad_child_of_a_sitemap_index_costs_only_that_child(
    server: LoopbackServer,
) -> None:
    children = [server.url(p) for p in ("/broken.xml", "/refs.xml", "/fine.xml")]
    children.insert(1, "http://[::1/child.xml")
    routes = {
        "/index.xml": (index(children), XML),
        "/broken.xml": (urlset(["http://[::1/x", "http://news.example.test/s/1"]), XML),
        "/refs.xml": (rss(item("http://news.example.test/s/2", "&#xD800;")), RSS),
        "/fine.xml": (urlset(["http://news.example.test/s/3"]), XML),
    }
    server.routes.update({p: Route(b, headers=h) for p, (b, h) in routes.items()})

    result = read(server, {"/index.xml": routes["/index.xml"]})

    urls = {i.url for i in result.items}
    assert {f"http://news.example.test/s/{n}" for n in (1, 2, 3)} <= urls
    assert "invalid_url: 1" in (outcome_of(result, server.url("/index.xml")).detail or "")
    assert {o.url for o in result.outcomes} >= set(children) - {"http://[::1/child.xml"}


def test_read_feeds_parser_error_is_that_documents_reason_with_the_exception(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feedparser

    real = feedparser.parse

    def parse(stream: Any, **kwargs: Any) -> Any:
        data = stream.getvalue()
        if b"explode" in data:
            raise RuntimeError("parser bug on this document")
        return real(stream, **kwargs)

    monkeypatch.setattr(feedparser, "parse", parse)

    result = read(server, {"/explode.xml": (rss(item("http://news.example.test/explode")), RSS)})

    outcome = outcome_of(result, server.url("/explode.xml"))
    assert outcome.reason == "feed_unparseable"
    assert outcome.detail == "RuntimeError: parser bug on this document"
    assert result.feeds_ok == 1


# === family 2: no markup declaration ever reaches a parser =======================================

BLOWUP = '<!ENTITY a "' + "a" * 10_000 + '">'
REFS = "&a;" * 1000


def _prologs() -> dict[str, str]:
    return {
        "after-64k-of-comments": "<!--" + " pad " * 14_000 + "-->\n" + f"<!DOCTYPE rss [{BLOWUP}]>",
        "bracket-in-comment": f"<!DOCTYPE rss [<!-- ] -->{BLOWUP}]>",
        "bracket-in-literal": f"<!DOCTYPE rss [<!ENTITY b ']'>{BLOWUP}]>",
        "element-start-in-comment": f"<!-- <a> --><!DOCTYPE rss [{BLOWUP}]>",
        "pi-with-bracket": f"<!DOCTYPE rss [<?x ]?>{BLOWUP}]>",
        "unclosed-subset": f"<!DOCTYPE rss [{BLOWUP}",
    }


@pytest.mark.parametrize("name", list(_prologs()))
def test_without_entity_declarations_leaves_no_declaration_in_the_prolog(name: str) -> None:
    body = rss(item("http://news.example.test/d/1", f"x {REFS}"), _prologs()[name])

    cleaned = without_entity_declarations(body)

    assert b"<!ENTITY" not in cleaned.upper()


@pytest.mark.parametrize("name", list(_prologs()))
def test_parse_feed_declaration_anywhere_in_the_prolog_is_not_expanded(name: str) -> None:
    body = rss(item("http://news.example.test/d/1", f"x {REFS}"), _prologs()[name])
    tracemalloc.start()
    try:
        parsed = (
            parse_feed(body, "http://news.example.test/feed") if name != "unclosed-subset" else None
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 50_000_000
    for found in parsed.items if parsed else []:
        assert "a" * 1000 not in (found.title or "")


def test_parse_feed_declaration_after_the_root_is_not_expanded() -> None:
    body = rss(f"<!DOCTYPE x [{BLOWUP}]>" + item("http://news.example.test/d/2", f"y {REFS}"))

    parsed = parse_feed(body, "http://news.example.test/feed")

    assert all("a" * 1000 not in (i.title or "") for i in parsed.items)


@pytest.mark.parametrize("where", ["declaration", "header"])
def test_as_markup_safe_utf7_document_is_reencoded_so_declarations_show(where: str) -> None:
    text = f'<?xml version="1.0" encoding="utf-7"?><!DOCTYPE rss [{BLOWUP}]><rss/>'
    body = text.encode("ascii").replace(b"<!ENTITY", b"+ADwAIQ-ENTITY")  # "<!" in UTF-7
    assert body.decode("utf-7") == text
    content_type = "application/rss+xml; charset=utf-7" if where == "header" else None
    if where == "header":
        body = body.replace(b"utf-7", b"utf-8")

    safe, kept_type = as_markup_safe(body, content_type)

    assert b"<!ENTITY" in safe and b"utf-7" not in safe
    assert kept_type is None or "utf-7" not in kept_type
    assert b"<!ENTITY" not in without_entity_declarations(body, content_type)


def test_parse_sitemap_declaration_after_64k_of_prolog_is_dropped() -> None:
    prolog = "<!--" + " pad " * 14_000 + f"--><!DOCTYPE urlset [{BLOWUP}]>"
    body = prolog.encode() + urlset(["http://news.example.test/m/&a;"])

    sitemap = parse_sitemap(body, "http://news.example.test/sitemap.xml")

    assert all(len(i.url) < 1000 for i in sitemap.items)


# === family 3: feed-derived strings are safe to store ===========================================


def test_parse_feed_nul_and_controls_from_references_never_reach_an_item() -> None:
    extra = (
        "<author>Ann&#0; Lee&#x1;</author><category>Po&#0;litics</category>"
        "<guid isPermaLink='false'>id&#0;-1</guid><description>Sum&#0;mary&#x7F;</description>"
    )
    body = rss(item("http://news.example.test/n/1", "Ti&#0;tle&#x0B;", extra))

    (found,) = parse_feed(body, "http://news.example.test/feed").items

    values = [found.title, found.author, found.guid, found.summary, *found.categories]
    assert values == ["Title", "Ann Lee", "id-1", "Summary", "Politics"]


def test_parse_feed_raw_control_characters_never_reach_an_item() -> None:
    body = rss(item("http://news.example.test/n/2", "Raw\x01\x08 title\ufffe"))

    (found,) = parse_feed(body, "http://news.example.test/feed").items

    assert found.title == "Raw title"


@pytest.mark.parametrize("kind", ["feed", "sitemap", "urls"])
def test_read_feeds_url_over_2048_bytes_is_skipped_with_a_reason(
    server: LoopbackServer, kind: str
) -> None:
    long = "http://news.example.test/long?q=" + "x" * 6000
    good = "http://news.example.test/long/ok"
    body, headers = {
        "sitemap": (urlset([long, good]), XML),
        "urls": (f"{long}\n{good}\n".encode(), TEXT),
        "feed": (rss(item(long) + item(good)), RSS),
    }[kind]

    result = read(server, {"/doc": (body, headers)})

    outcome = outcome_of(result, server.url("/doc"))
    assert outcome.reason == "ok"
    assert "url_too_long: 1" in (outcome.detail or "")
    assert good in {i.url for i in result.items}
    assert all(len(i.url) <= 2048 and len(i.canonical_url) <= 2048 for i in result.items)


def test_canonicalize_url_over_the_limit_is_none() -> None:
    from tasks.dedup.urls import canonicalize_url

    assert canonicalize_url("http://a.test/" + "é" * 1100) is None
    assert canonicalize_url("http://a.test/" + "e" * 1000) is not None


def test_read_feeds_detail_names_skipped_entries_and_a_malformed_warning(
    server: LoopbackServer,
) -> None:
    long = "http://news.example.test/" + "y" * 3000
    body = rss(item(long) + item("http://news.example.test/w/1") + "<item><title>unclosed")

    result = read(server, {"/warn.xml": (body, RSS)})

    detail = outcome_of(result, server.url("/warn.xml")).detail or ""
    assert detail.startswith("feed warning: ")
    assert "skipped 1 entry (url_too_long: 1)" in detail


def test_fetch_redirect_to_a_url_over_2048_bytes_is_url_too_long(server: LoopbackServer) -> None:
    target = server.url("/long?q=" + "z" * 6000)
    server.routes["/hop"] = Route(b"", status=302, headers={"Location": target})

    (outcome,) = fetch_pages([server.url("/hop")], CONFIG, kind="page")

    assert outcome.reason == "url_too_long"
    assert server.hits == ["/hop"]
