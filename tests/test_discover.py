"""``parse_feed``: every real feed of the shared corpus, the malformed ones, and small inline feeds.

Corpus files are globbed at collection time; when the corpus is missing, each corpus test collapses
to a single ``corpus-missing`` case that requests the ``corpus`` fixture, which fails in CI and
skips elsewhere.
"""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tasks.discover.feeds import FeedParseError, ParsedFeed, parse_feed

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("NEWSFLOW_CORPUS", ROOT.parent / "shared" / "corpus"))
WEB = CORPUS / "web"
FEED_URL = "https://feeds.example.test/news/feed.xml"
CONTENT_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "malformed": "application/xml",
}
FFFD = "\ufffd"

# Entries whose date feedparser cannot parse make parse_feed raise DeprecationWarning under the
# project's filterwarnings=error (see test_parse_feed_unparseable_date_is_none_without_warning).


def _manifest() -> dict[str, str]:
    """MANIFEST.tsv: relative path -> the ``exercises`` column."""
    path = WEB / "MANIFEST.tsv"
    if not path.is_file():
        return {}
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return {row[0]: row[6] for row in rows if len(row) > 6}


MANIFEST = _manifest()


def corpus_params(*folders: str, match: str = "") -> list[pytest.ParameterSet]:
    """One case per corpus file (``folder/name``), or one ``corpus-missing`` case."""
    files = sorted(
        f"{folder}/{path.name}"
        for folder in folders
        if (WEB / folder).is_dir()
        for path in (WEB / folder).iterdir()
        if path.is_file() and re.search(match, path.name)
    )
    if not files:
        return [pytest.param(None, id="corpus-missing")]
    return [pytest.param(rel, id=rel) for rel in files]


def corpus_file(corpus: Path, rel: str | None) -> Path:
    assert rel is not None, f"no matching files under {corpus / 'web'}"
    return corpus / "web" / rel


@cache
def parse_corpus_feed(path: Path) -> ParsedFeed:
    """Well-formed corpus feeds are parsed once and shared by the tests below (read-only)."""
    return parse_feed(path.read_bytes(), FEED_URL, CONTENT_TYPES[path.parent.name])


def is_absolute_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>T</title>'
        f"<link>https://news.example.test/</link>{items}</channel></rss>"
    ).encode()


def rss_item(link: str, title: str = "A story", extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


# -- every well-formed corpus feed ------------------------------------------------------------


@pytest.mark.parametrize("rel", corpus_params("rss", "atom"))
def test_parse_feed_corpus_feed_has_items(corpus: Path, rel: str | None) -> None:
    parsed = parse_corpus_feed(corpus_file(corpus, rel))
    assert len(parsed.items) >= 1


@pytest.mark.parametrize("rel", corpus_params("rss", "atom"))
def test_parse_feed_corpus_item_urls_are_absolute_http(corpus: Path, rel: str | None) -> None:
    parsed = parse_corpus_feed(corpus_file(corpus, rel))
    assert [i.url for i in parsed.items if not is_absolute_http(i.url)] == []


@pytest.mark.parametrize("rel", corpus_params("rss", "atom"))
def test_parse_feed_corpus_canonical_urls_set_and_unique(corpus: Path, rel: str | None) -> None:
    parsed = parse_corpus_feed(corpus_file(corpus, rel))
    canonical = [item.canonical_url for item in parsed.items]
    assert all(is_absolute_http(url) for url in canonical)
    assert len(canonical) == len(set(canonical))


@pytest.mark.parametrize("rel", corpus_params("rss", "atom"))
def test_parse_feed_corpus_dates_are_utc(corpus: Path, rel: str | None) -> None:
    parsed = parse_corpus_feed(corpus_file(corpus, rel))
    dates = [item.published_at for item in parsed.items if item.published_at is not None]
    assert all(d.tzinfo is not None and d.utcoffset() == timedelta(0) for d in dates)


# -- per-format checks ------------------------------------------------------------------------


@pytest.mark.parametrize("rel", corpus_params("rss", match=r"\.rdf$"))
def test_parse_feed_rss10_rdf_gives_version_rss10(corpus: Path, rel: str | None) -> None:
    assert parse_corpus_feed(corpus_file(corpus, rel)).version == "rss10"


@pytest.mark.parametrize("rel", corpus_params("atom"))
def test_parse_feed_atom_gives_version_atom10(corpus: Path, rel: str | None) -> None:
    assert parse_corpus_feed(corpus_file(corpus, rel)).version == "atom10"


@pytest.mark.parametrize("rel", corpus_params("rss", match=r"iso-8859-1"))
def test_parse_feed_latin1_titles_readable(corpus: Path, rel: str | None) -> None:
    titles = [i.title or "" for i in parse_corpus_feed(corpus_file(corpus, rel)).items]
    assert not any(FFFD in t for t in titles)
    assert not any(re.search("[ÃÂ][\x80-\xbf]", t) for t in titles)  # UTF-8 read as Latin-1
    assert any(re.search("[À-ÿ]", t) for t in titles)  # accented letters survived


@pytest.mark.parametrize("rel", corpus_params("rss", match=r"gb2312"))
def test_parse_feed_gb2312_titles_readable(corpus: Path, rel: str | None) -> None:
    titles = [i.title or "" for i in parse_corpus_feed(corpus_file(corpus, rel)).items]
    assert not any(FFFD in t for t in titles)
    assert all(re.search("[\u4e00-\u9fff]", t) for t in titles)  # Chinese, not mojibake


def test_parse_feed_xml_base_feed_links_absolute(corpus: Path) -> None:
    parsed = parse_corpus_feed(corpus / "web" / "rss" / "insanity-industries-xmlbase.xml")
    assert [item.url for item in parsed.items] == [
        "https://insanity.industries/post/pareto-optimal-compression/",
        "https://insanity.industries/post/pacman-tracking-leftover-packages/",
    ]


def test_parse_feed_relative_enclosure_feed_uses_absolute_item_link(corpus: Path) -> None:
    parsed = parse_corpus_feed(corpus / "web" / "rss" / "kryogenix-relative-enclosure.xml")
    assert [item.url for item in parsed.items] == ["https://kryogenix.org/nothing-here-really"]


# -- malformed corpus documents ---------------------------------------------------------------


@pytest.mark.parametrize("rel", corpus_params("malformed"))
def test_parse_feed_malformed_parses_or_raises_feed_parse_error(
    corpus: Path, rel: str | None
) -> None:
    path = corpus_file(corpus, rel)
    try:
        parsed = parse_feed(path.read_bytes(), FEED_URL, CONTENT_TYPES["malformed"])
    except FeedParseError:
        return
    exercises = MANIFEST.get(f"malformed/{path.name}", "")
    expected = re.search(r"items=(\d+)", exercises)
    if expected:
        assert len(parsed.items) == int(expected.group(1))  # the good entries are kept
    if "NOT-WELLFORMED" in exercises:
        assert parsed.warning
    assert all(is_absolute_http(i.url) for i in parsed.items)
    assert len({i.canonical_url for i in parsed.items}) == len(parsed.items)


def test_parse_feed_unescaped_amp_keeps_entries(corpus: Path) -> None:
    path = corpus / "web" / "malformed" / "physorg-unescaped-amp-no-xmldecl.xml"
    parsed = parse_feed(path.read_bytes(), FEED_URL, "application/rss+xml")
    assert parsed.warning
    assert len(parsed.items) == 30
    assert all(i.title and i.title == i.title.strip() for i in parsed.items)


# -- non-feed input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            b"<!DOCTYPE html><html><head><title>Home</title></head>"
            b'<body><h1>News</h1><p>Read <a href="/a">this</a>.</p></body></html>',
            "text/html; charset=utf-8",
            id="html-page",
        ),
        pytest.param(b"", None, id="empty"),
        pytest.param(random.Random(20240601).randbytes(4096), None, id="random-bytes"),
    ],
)
def test_parse_feed_non_feed_raises_feed_parse_error(body: bytes, content_type: str | None) -> None:
    with pytest.raises(FeedParseError) as excinfo:
        parse_feed(body, FEED_URL, content_type)
    assert excinfo.value.reason == "feed_unparseable"


# -- inline feeds -----------------------------------------------------------------------------


def test_parse_feed_limit_caps_items() -> None:
    body = rss("".join(rss_item(f"https://news.example.test/{n}") for n in range(5)))
    parsed = parse_feed(body, FEED_URL, limit=2)
    assert [i.url for i in parsed.items] == [
        "https://news.example.test/0",
        "https://news.example.test/1",
    ]


def test_parse_feed_limit_above_count_keeps_all_items() -> None:
    body = rss("".join(rss_item(f"https://news.example.test/{n}") for n in range(5)))
    assert len(parse_feed(body, FEED_URL, limit=50).items) == 5


def test_parse_feed_limit_zero_gives_no_items() -> None:
    body = rss("".join(rss_item(f"https://news.example.test/{n}") for n in range(3)))
    assert parse_feed(body, FEED_URL, limit=0).items == []


def test_parse_feed_rss_date_converted_to_utc() -> None:
    body = rss(
        rss_item(
            "https://news.example.test/a",
            extra="<pubDate>Tue, 02 Mar 2021 23:39:15 +0100</pubDate>",
        )
    )
    (item,) = parse_feed(body, FEED_URL).items
    assert item.published_at == datetime(2021, 3, 2, 22, 39, 15, tzinfo=UTC)
    assert item.published_at is not None and item.published_at.utcoffset() == timedelta(0)


def test_parse_feed_atom_date_converted_to_utc() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<entry><title>E</title><link href="https://news.example.test/e"/><id>urn:e</id>'
        b"<updated>2020-01-02T03:04:05+02:00</updated></entry></feed>"
    )
    (item,) = parse_feed(body, FEED_URL, "application/atom+xml").items
    assert item.published_at == datetime(2020, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert item.published_at is not None and item.published_at.utcoffset() == timedelta(0)


def test_parse_feed_unparseable_date_is_none_without_warning() -> None:
    body = rss(
        rss_item(
            "https://news.example.test/a",
            extra="<pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate>",
        )
    )
    (item,) = parse_feed(body, FEED_URL).items
    assert item.published_at is None


def test_parse_feed_relative_link_resolved_against_feed_url() -> None:
    (item,) = parse_feed(rss(rss_item("../2024/story.html")), FEED_URL).items
    assert item.url == "https://feeds.example.test/2024/story.html"


def test_parse_feed_relative_link_resolved_against_xml_base() -> None:
    body = rss('<item xml:base="https://base.example.test/dir/"><link>post/1</link></item>')
    (item,) = parse_feed(body, FEED_URL).items
    assert item.url == "https://base.example.test/dir/post/1"


def test_parse_feed_atom_relative_link_resolved_against_xml_base() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        b'xml:base="https://atom.example.test/blog/"><title>T</title><entry><title>E</title>'
        b'<link rel="alternate" href="2020/e1"/><id>urn:e1</id></entry></feed>'
    )
    (item,) = parse_feed(body, FEED_URL, "application/atom+xml").items
    assert item.url == "https://atom.example.test/blog/2020/e1"


def test_parse_feed_drops_items_without_http_link() -> None:
    body = rss(
        rss_item("mailto:desk@news.example.test")
        + rss_item("javascript:void(0)")
        + rss_item("https://news.example.test/kept")
    )
    assert [i.url for i in parse_feed(body, FEED_URL).items] == ["https://news.example.test/kept"]


def test_parse_feed_keeps_first_of_same_canonical_url() -> None:
    body = rss(
        rss_item("https://news.example.test/a?utm_source=rss", title="first")
        + rss_item("https://NEWS.example.test/a#comments", title="second")
        + rss_item("https://news.example.test/b", title="third")
    )
    items = parse_feed(body, FEED_URL).items
    assert [(i.title, i.canonical_url) for i in items] == [
        ("first", "https://news.example.test/a"),
        ("third", "https://news.example.test/b"),
    ]


def test_parse_feed_keeps_published_url_and_guid() -> None:
    body = rss(
        rss_item(
            "https://news.example.test/a?utm_source=rss&id=7",
            extra='<guid isPermaLink="false">story-7</guid>',
        )
    )
    (item,) = parse_feed(body, FEED_URL).items
    assert item.url == "https://news.example.test/a?utm_source=rss&id=7"
    assert item.canonical_url == "https://news.example.test/a?id=7"
    assert item.guid == "story-7"
