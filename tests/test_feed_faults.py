"""Checklist rows F1-F6 (``docs/faults.md`` A3, Feeds/XML): hostile and broken feeds served on
127.0.0.1, fetched by :func:`tasks.fetch.polite.fetch_pages` (``kind="feed"``) and read by
:func:`tasks.discover.discover.read_feeds`, as the ``discover-source`` task does. Every test
runs on a network that ends at the loopback interface
(:class:`tests.rawserver.LoopbackOnlyNetwork`)."""

from __future__ import annotations

import builtins
import contextlib
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tasks.discover.discover import FeedsRead, read_feeds
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tasks.records import FeedItem
from tests.loopback import LoopbackServer, Route, rss_feed
from tests.rawserver import LoopbackOnlyNetwork, RawServer, respond

USER_AGENT = "newsflow-test/1 (+https://example.invalid)"
HTML = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"
LOOPBACK_ONLY = NetworkPolicy.parse("127.0.0.1/32")
RSS_TYPE = "application/rss+xml"
GOOD_LINKS = ["http://news.example.test/good/1", "http://news.example.test/good/2"]


def _config(**overrides: Any) -> FetchConfig:
    base = FetchConfig(
        user_agent=USER_AGENT,
        network_policy=LOOPBACK_ONLY,
        delay=0,
        connect_timeout=0.5,
        read_timeout=1.0,
        total_timeout=5.0,
        retries=0,
        backoff=0.01,
        robots=False,
    )
    return replace(base, **overrides)


def _rss(items: str, prolog: str = "", encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n{prolog}'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
        f"<link>http://news.example.test/</link>{items}</channel></rss>"
    )


def _item(link: str, title: str = "A story", extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


def _encode(document: str, encoding: str) -> bytes:
    return document.encode("utf-16" if encoding == "utf-16" else encoding)  # utf-16: with a BOM


def _read(
    server: LoopbackServer,
    path: str,
    body: bytes,
    content_type: str = RSS_TYPE,
    limit: int | None = None,
) -> tuple[FeedsRead, float]:
    """Serve ``body`` at ``path`` next to a good feed; fetch both, read both. The good feed must
    always come through (the rest of the run continues). ``limit`` caps the source's items
    (the good feed is listed second, so its items may then be cut)."""
    server.routes[path] = Route(body, headers={"Content-Type": content_type})
    server.routes["/good.xml"] = Route(
        rss_feed("good", GOOD_LINKS), headers={"Content-Type": RSS_TYPE}
    )
    urls = [server.url(path), server.url("/good.xml")]
    start = time.monotonic()
    read = read_feeds(fetch_pages(urls, _config(), kind="feed"), limit or 1_000)
    elapsed = time.monotonic() - start
    assert read.outcomes[1].ok, read.outcomes[1]
    assert read.feeds_ok == 1 + read.outcomes[0].ok
    if limit is None:
        assert set(GOOD_LINKS) <= {i.url for i in read.items}
    return read, elapsed


def _items_of(read: FeedsRead) -> list[FeedItem]:
    """The items of the feed under test (the good feed's left out)."""
    return [i for i in read.items if i.url not in GOOD_LINKS]


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> LoopbackOnlyNetwork:
    return LoopbackOnlyNetwork().install(monkeypatch)


@pytest.fixture
def server(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """conftest's server, stopped without waiting out ``serve_forever``'s 0.5 s poll interval,
    and quiet about clients that hang up on it (the fetcher closes connections whose bodies it
    does not want: the kernel answers the server with a reset)."""
    report = server._httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    monkeypatch.setattr(server._httpd, "handle_error", handle_error)
    yield server
    port = int(server.base.rsplit(":", 1)[1])
    stopper = threading.Thread(target=server._httpd.shutdown, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 2.0
    while stopper.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            pass
        stopper.join(0.01)


# === F1: entity expansion (billion laughs, quadratic blowup), also UTF-16 ========================


def _billion_laughs() -> str:
    entities = ['<!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = f"lol{level - 1}" if level > 1 else "lol"
        entities.append(f'<!ENTITY lol{level} "{f"&{previous};" * 10}">')
    return "<!DOCTYPE rss [\n" + "\n".join(entities) + "\n]>\n"


def _quadratic() -> str:
    return '<!DOCTYPE rss [\n<!ENTITY a "' + "a" * 10_000 + '">\n]>\n'


def _expansion_feed(prolog: str, ref: str, encoding: str) -> bytes:
    items = _item("http://news.example.test/e/1", f"One {ref} end") + _item(
        "http://news.example.test/e/2", "Two", f"<description>{ref}</description>"
    )
    return _encode(_rss(items, prolog, encoding), encoding)


def _assert_not_expanded(read: FeedsRead, elapsed: float, peak: int, marker: str) -> None:
    items = _items_of(read)
    assert [i.url for i in items] == [
        "http://news.example.test/e/1",
        "http://news.example.test/e/2",
    ]
    for item in items:
        assert len(item.title or "") < 1000
        assert marker not in (item.title or "")
    assert elapsed < 2.0
    assert peak < 50_000_000


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_f1_billion_laughs_is_not_expanded(server: LoopbackServer, encoding: str) -> None:
    body = _expansion_feed(_billion_laughs(), "&lol9;", encoding)
    tracemalloc.start()
    try:
        read, elapsed = _read(server, "/laughs.xml", body)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert read.outcomes[0].ok
    _assert_not_expanded(read, elapsed, peak, "lol" * 10)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_f1_quadratic_blowup_is_not_expanded(server: LoopbackServer, encoding: str) -> None:
    body = _expansion_feed(_quadratic(), "&a;" * 1000, encoding)
    assert len(body) < 60_000  # 10 MB per field if expanded
    tracemalloc.start()
    try:
        read, elapsed = _read(server, "/quadratic.xml", body)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    _assert_not_expanded(read, elapsed, peak, "a" * 1000)


# === F2: XXE and external DTDs: no file or network access ========================================


SECRET = "NEWSFLOW-SECRET-7f3a9c"  # noqa: S105 - the text a leak would show
FETCHED = "DTD-WAS-FETCHED"


@pytest.mark.parametrize("kind", ["general-entity", "parameter-entity", "external-dtd"])
def test_f2_external_entities_are_not_resolved(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    server.routes["/evil.dtd"] = Route(
        f'<!ENTITY web "{FETCHED}">'.encode(), headers={"Content-Type": "application/xml-dtd"}
    )
    dtd = server.url("/evil.dtd")
    prolog = {
        "general-entity": f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file://{secret}">\n'
        f'<!ENTITY web SYSTEM "{dtd}">\n]>\n',
        "parameter-entity": f'<!DOCTYPE rss [\n<!ENTITY % file SYSTEM "file://{secret}">\n'
        f'<!ENTITY % remote SYSTEM "{dtd}">\n%remote;\n%file;\n]>\n',
        "external-dtd": f'<!DOCTYPE rss SYSTEM "{dtd}">\n',
    }[kind]
    items = _item(
        "http://news.example.test/x/1", "Leak &xxe; &web; here", "<description>&xxe;</description>"
    ) + _item("http://news.example.test/x/2", "Plain")
    opened: list[str] = []
    real_open = builtins.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", spy_open)
        read, _elapsed = _read(server, "/xxe.xml", _rss(items, prolog).encode())

    everything = repr(read)
    assert SECRET not in everything
    assert FETCHED not in everything
    assert str(secret) not in opened
    assert "/evil.dtd" not in server.hits  # no request from the parser
    assert "http://news.example.test/x/2" in [i.url for i in read.items]  # entries still parsed


# === F3: not a feed, malformed, wrong declared encoding ==========================================


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"", RSS_TYPE, id="empty-200"),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": '
            b'[{"id": "1", "url": "http://news.example.test/j/1", "title": "J1"}]}',
            "application/feed+json",
            id="json-feed",
        ),
        pytest.param(
            b"<!DOCTYPE html><html><head><title>Home</title></head><body><h1>News</h1>"
            b'<a href="/a">a story</a></body></html>',
            "text/html; charset=utf-8",
            id="html-page",
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png", id="binary"),
    ],
)
def test_f3_not_a_feed_is_feed_unparseable_and_recorded(
    server: LoopbackServer, body: bytes, content_type: str
) -> None:
    read, _elapsed = _read(server, "/notfeed", body, content_type)
    bad_url = server.url("/notfeed")

    assert [o.reason for o in read.outcomes] == ["feed_unparseable", "ok"]
    assert read.outcomes[0].detail
    assert read.outcomes[0].body is None
    assert read.errors == [f"{bad_url}: feed_unparseable"]
    assert [s.url for s in read.states] == [server.url("/good.xml")]  # retried next run
    assert read.feeds_ok == 1
    assert {i.url for i in read.items} == set(GOOD_LINKS)


def test_f3_malformed_xml_keeps_good_entries_with_a_warning(server: LoopbackServer) -> None:
    items = (
        _item("http://news.example.test/m/1", "First")
        + _item("http://news.example.test/m/2", "Fish & chips <b>bold")  # not well-formed
        + _item("http://news.example.test/m/3", "Third")
    )
    read, _elapsed = _read(server, "/malformed.xml", _rss(items).encode())

    assert read.outcomes[0].ok
    assert (read.outcomes[0].detail or "").startswith("feed warning:")
    assert [i.url for i in _items_of(read)] == [
        "http://news.example.test/m/1",
        "http://news.example.test/m/2",
        "http://news.example.test/m/3",
    ]


def test_f3_wrong_declared_encoding_is_read_with_a_warning(server: LoopbackServer) -> None:
    document = _rss(_item("http://news.example.test/w/1", "Café crème à Zürich"))
    read, _elapsed = _read(server, "/latin.xml", document.encode("cp1252"))  # says utf-8

    assert read.outcomes[0].ok
    assert "feed warning" in (read.outcomes[0].detail or "")
    (item,) = _items_of(read)
    assert item.title == "Café crème à Zürich"


# === F4: 100k entries; a 50 MB feed ==============================================================


def test_f4_hundred_thousand_entries_capped_by_limit(server: LoopbackServer) -> None:
    items = "".join(
        f"<item><link>http://news.example.test/n/{n}</link></item>" for n in range(100_000)
    )
    # ~4.5 MB; feedparser itself needs several seconds for it (no time bound asserted: the
    # size cap is what bounds the work)
    read, _elapsed = _read(server, "/huge.xml", _rss(items).encode(), limit=10)

    assert read.outcomes[0].ok
    assert len(read.items) == 10
    assert [i.url for i in read.items] == [f"http://news.example.test/n/{n}" for n in range(10)]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_f4_fifty_megabyte_feed_over_the_cap_is_too_large(
    server: LoopbackServer, declared: bool
) -> None:
    size = 50 * 1024 * 1024
    start = _rss("<item><link>http://news.example.test/big</link><description>").encode()
    end = b"</description></item></channel></rss>"

    def big(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", RSS_TYPE)
        if declared:
            handler.send_header("Content-Length", str(len(start) + size + len(end)))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        block = b"x" * (1024 * 1024)
        pieces = [start] + [block] * (size // len(block)) + [end]
        try:
            for piece in pieces:
                handler.wfile.write(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
            if not declared:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped at its cap
            handler.close_connection = True

    server.routes["/big.xml"] = big
    server.routes["/good.xml"] = Route(
        rss_feed("good", GOOD_LINKS), headers={"Content-Type": RSS_TYPE}
    )
    urls = [server.url("/big.xml"), server.url("/good.xml")]
    config = _config(max_feed_bytes=20_000_000)  # the default cap
    started = time.monotonic()
    read = read_feeds(fetch_pages(urls, config, kind="feed"), 50)

    assert [o.reason for o in read.outcomes] == ["too_large", "ok"]
    assert read.errors == [f"{urls[0]}: too_large"]
    assert {i.url for i in read.items} == set(GOOD_LINKS)
    assert time.monotonic() - started < 5.0


# === F5: GUIDs, relative / javascript: / off-site links ==========================================


@pytest.fixture
def outside() -> Iterator[RawServer]:
    """A server on 127.0.0.2: loopback, but outside ``LOOPBACK_ONLY``."""
    srv = RawServer("127.0.0.2")
    srv.routes["/target"] = respond(200, [("Content-Type", "text/html")], HTML)
    yield srv
    srv.close()


def test_f5_entry_links_resolved_dropped_deduplicated_then_ssrf_checked(
    network: LoopbackOnlyNetwork, server: LoopbackServer, outside: RawServer
) -> None:
    items = "".join(
        [
            _item("../a/1.html", "no guid, relative"),
            _item("/a/2.html", "guid dup", "<guid isPermaLink='false'>dup</guid>"),
            _item("/a/2.html?utm_source=rss", "same page", "<guid>other</guid>"),
            _item("/a/3.html", "guid dup again", "<guid isPermaLink='false'>dup</guid>"),
            _item("javascript:alert(1)", "script"),
            _item("data:text/html,hi", "data"),
            _item("", "no link"),
            _item("http://169.254.169.254/latest/meta-data/", "metadata"),
            _item(f"http://127.0.0.2:{outside.port}/target", "outside"),
            _item(escape(f"http://0177.0.0.2:{outside.port}/target"), "octal"),
        ]
    )
    for path in ("/a/1.html", "/a/2.html", "/a/3.html"):
        server.routes[path] = Route(HTML)
    read, _elapsed = _read(server, "/news/feed.xml", _rss(items).encode())
    found = _items_of(read)

    # relative links resolved against the feed URL; javascript:, data: and empty links dropped;
    # one item per canonical URL (GUIDs are not the identity: a missing one is fine)
    assert [(i.url, i.guid) for i in found] == [
        (server.url("/a/1.html"), None),
        (server.url("/a/2.html"), "dup"),
        (server.url("/a/3.html"), "dup"),
        ("http://169.254.169.254/latest/meta-data/", None),
        (f"http://127.0.0.2:{outside.port}/target", None),
        (f"http://0177.0.0.2:{outside.port}/target", None),
    ]
    assert all(i.canonical_url for i in found)
    # off-site links are kept by discovery and refused by the fetcher
    pages = fetch_pages([i.url for i in found], _config())

    assert [p.reason for p in pages] == ["ok"] * 3 + ["blocked_address"] * 3
    assert outside.connections == 0
    assert network.refused == []  # 169.254.169.254 was never even tried


# === F6: dates ===================================================================================


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param("", None, id="missing"),
        pytest.param(
            "<pubDate>Thu, 01 Jan 2099 00:00:00 GMT</pubDate>",
            datetime(2099, 1, 1, tzinfo=UTC),
            id="2099",
        ),
        pytest.param(
            "<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>",
            datetime(1970, 1, 1, tzinfo=UTC),
            id="epoch-0",
        ),
        pytest.param(
            "<dc:date>2024-05-01T10:00:00</dc:date>",
            datetime(2024, 5, 1, 10, tzinfo=UTC),
            id="w3c-no-timezone",
        ),
        pytest.param("<pubDate>Wed, 01 May 2024 10:00:00</pubDate>", "any", id="rfc822-no-tz"),
        pytest.param("<pubDate>Sat, 01 Jan 10000 00:00:00 GMT</pubDate>", None, id="year-10000"),
        pytest.param("<pubDate>Fri, 31 Dec 9999 23:59:59 -1200</pubDate>", None, id="overflow"),
        pytest.param("<pubDate>Mon, 31 Feb 2024 00:00:00 GMT</pubDate>", None, id="31-february"),
        pytest.param("<pubDate>yesterday</pubDate>", None, id="garbage"),
        pytest.param("<pubDate>0</pubDate>", None, id="zero"),
    ],
)
def test_f6_dates_are_none_or_utc_never_a_crash(
    server: LoopbackServer, date: str, expected: datetime | str | None
) -> None:
    items = _item("http://news.example.test/d/1", "dated", date) + _item(
        "http://news.example.test/d/2", "after"
    )
    read, _elapsed = _read(server, "/dates.xml", _rss(items).encode())
    found = _items_of(read)

    assert [i.url for i in found] == [
        "http://news.example.test/d/1",
        "http://news.example.test/d/2",
    ]
    when = found[0].published_at
    if expected == "any":
        assert when is None or when.utcoffset() is not None
    else:
        assert when == expected
    if when is not None:
        assert when.utcoffset() == timedelta(0)


def test_f6_atom_date_without_timezone_is_utc(server: LoopbackServer) -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<id>urn:t</id><entry><title>E</title><link href="http://news.example.test/at/1"/>'
        b"<id>urn:e</id><updated>2024-05-01T10:00:00</updated></entry></feed>"
    )
    read, _elapsed = _read(server, "/atom.xml", body, "application/atom+xml")
    (item,) = _items_of(read)

    assert item.published_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
