"""``canonicalize_url``: one spelling per article URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.dedup.urls import canonicalize_url
from tasks.discover.feeds import parse_feed

# Real feeds whose links exercise query strings, redirect wrappers, FeedBurner paths and CDATA.
REAL_FEEDS = [
    "atom/google-alerts-2019-07.xml",
    "rss/gawker-2009-07.v1.xml",
    "rss/livemint-news-2019.xml",
    "rss/theguardian-us-2018-01.xml",
    "rss/motherjones-2012-03.v1.xml",
    "rss/kc0011-forum.gb2312.xml",
]


def test_canonicalize_url_lowercases_scheme_and_host() -> None:
    assert canonicalize_url("HTTPS://News.Example.COM/Path/Story") == (
        "https://news.example.com/Path/Story"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
    ],
)
def test_canonicalize_url_drops_default_port(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
    ],
)
def test_canonicalize_url_keeps_other_port(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected


def test_canonicalize_url_drops_fragment() -> None:
    assert canonicalize_url("https://example.com/a?id=1#comments") == "https://example.com/a?id=1"


@pytest.mark.parametrize(
    "param",
    ["utm_source=rss", "UTM_Medium=feed", "utm_campaign=x", "fbclid=IwAR0", "gclid=Cj0", "_ga=2.1"],
)
def test_canonicalize_url_strips_tracking_param(param: str) -> None:
    assert canonicalize_url(f"https://example.com/a?{param}") == "https://example.com/a"


@pytest.mark.parametrize("param", ["id=42", "page=2", "Seq_Code=123456", "p=7", "q=a+b"])
def test_canonicalize_url_keeps_meaningful_param(param: str) -> None:
    assert canonicalize_url(f"https://example.com/a?utm_source=x&{param}&fbclid=y") == (
        f"https://example.com/a?{param}"
    )


def test_canonicalize_url_sorts_query() -> None:
    assert canonicalize_url("https://example.com/a?page=2&id=7&b=&a=1") == (
        "https://example.com/a?a=1&b=&id=7&page=2"
    )


@pytest.mark.parametrize("url", ["https://example.com", "https://example.com?id=1"])
def test_canonicalize_url_empty_path_becomes_slash(url: str) -> None:
    canonical = canonicalize_url(url)
    assert canonical is not None and canonical.startswith("https://example.com/")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("../b/story.html?utm_source=x", "https://example.com/news/b/story.html"),
        ("/top", "https://example.com/top"),
        ("story?id=3", "https://example.com/news/a/story?id=3"),
        ("//cdn.example.net/x", "https://cdn.example.net/x"),
        ("http://other.example/x", "http://other.example/x"),
    ],
)
def test_canonicalize_url_resolves_relative_link_with_base(link: str, expected: str) -> None:
    assert canonicalize_url(link, base="https://Example.com/news/a/index.html") == expected


@pytest.mark.parametrize(
    "url",
    [
        "mailto:desk@example.com",
        "javascript:alert(1)",
        "ftp://example.com/file.txt",
        "file:///etc/passwd",
        "data:text/html,hi",
    ],
)
def test_canonicalize_url_non_http_scheme_gives_none(url: str) -> None:
    assert canonicalize_url(url) is None


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://example.com:99999/", "http://", "", "   ", "not a url"]
)
def test_canonicalize_url_garbage_gives_none(url: str) -> None:
    assert canonicalize_url(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bücher.de/buch", "https://xn--bcher-kva.de/buch"),
        ("https://BÜCHER.de/", "https://xn--bcher-kva.de/"),
        ("http://παράδειγμα.δοκιμή/", "http://xn--hxajbheg2az3al.xn--jxalpdlp/"),
    ],
)
def test_canonicalize_url_idn_host_gives_punycode(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected


def test_canonicalize_url_idn_host_keeps_sharp_s() -> None:
    assert canonicalize_url("https://faß.de/x") == "https://xn--fa-hia.de/x"


@pytest.mark.parametrize(
    "url",
    [
        "HTTP://Example.COM:80?b=2&a=1&utm_source=x#top",
        "https://example.com/a?q=a+b&r=%20&s=%2B&t",
        "https://bücher.de/ö?x=ü",
        "http://[::1]:8080/x?b&a",
        "https://example.com./a/../b;p?x=1&x=0",
    ],
)
def test_canonicalize_url_idempotent_on_messy_url(url: str) -> None:
    once = canonicalize_url(url)
    assert once is not None
    assert canonicalize_url(once) == once


@pytest.mark.parametrize("rel", REAL_FEEDS)
def test_canonicalize_url_idempotent_on_real_feed_links(corpus: Path, rel: str) -> None:
    path = corpus / "web" / rel
    items = parse_feed(path.read_bytes(), "https://feeds.example.test/feed.xml").items[:10]
    assert items
    for item in items:
        once = canonicalize_url(item.url)
        assert once == item.canonical_url
        assert canonicalize_url(once) == once
