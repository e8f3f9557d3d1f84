"""Feed and sitemap detection for ``newsflow sources discover`` (tasks/authoring/sitefinder.py)."""

from __future__ import annotations

import gzip

import pytest
import yaml

from tasks.authoring.sitefinder import (
    Candidate,
    SiteReport,
    feed_links,
    sitemap_entries,
    slug_for,
    source_entry,
)
from tasks.discover.sitemaps import SitemapError
from tasks.sources import parse_sources

URLSET = (
    b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    b"<url><loc>https://a.example/1</loc></url><url><loc>https://a.example/2</loc></url></urlset>"
)


def test_feed_links_finds_rss_and_atom_alternates_only() -> None:
    html = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        b'<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="atom">'
        b'<link rel="alternate" hreflang="de" href="/de/">'
        b'<link rel="stylesheet" type="text/css" href="/s.css"></head></html>'
    )

    links = feed_links(html, "https://a.example/news/")

    assert links == ["https://a.example/rss.xml", "https://a.example/news/atom"]


def test_sitemap_entries_counts_urls_of_a_urlset() -> None:
    assert sitemap_entries(URLSET) == 2


def test_sitemap_entries_counts_children_of_an_index() -> None:
    index = (
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://a.example/s1.xml</loc></sitemap></sitemapindex>"
    )

    assert sitemap_entries(index) == 1


def test_sitemap_entries_reads_a_gzipped_sitemap() -> None:
    assert sitemap_entries(gzip.compress(URLSET)) == 2


def test_sitemap_entries_stops_a_gzip_bomb_at_the_cap() -> None:
    with pytest.raises(SitemapError, match="inflates beyond"):
        sitemap_entries(gzip.compress(URLSET + b" " * 100_000), cap=10_000)


@pytest.mark.parametrize("body", [b"<html><body>soft 404</body></html>", b"<rss version='2.0'/>"])
def test_sitemap_entries_rejects_what_is_not_a_sitemap(body: bytes) -> None:
    with pytest.raises(SitemapError):
        sitemap_entries(body)


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://www.bbc.co.uk/news", "bbc"),
        ("https://www.example-news.com/", "example-news"),
        ("https://feeds.arstechnica.com/x", "arstechnica"),
        ("http://127.0.0.1:8080/", "127-0-0-1"),
        ("http://localhost/", "localhost"),
    ],
)
def test_slug_for_names_the_site(url: str, slug: str) -> None:
    assert slug_for(url) == slug


def test_source_entry_lists_usable_feeds_and_comments_sitemaps() -> None:
    report = SiteReport("https://a.example/", "ok")
    report.candidates = [
        Candidate("https://a.example/feed", "feed", "path", "ok", 5, "https://a.example/feed/"),
        Candidate("https://a.example/rss", "feed", "path", "ok", 0),  # empty: not offered
        Candidate("https://a.example/atom.xml", "feed", "path", "http_404"),
        Candidate("https://a.example/sitemap.xml", "sitemap", "robots", "ok", 7),
    ]

    text = source_entry(report, "a-example", interval=900)
    (source,) = parse_sources({"sources": yaml.safe_load(text)})

    assert source.feeds == ["https://a.example/feed/"]
    assert source.interval == 900
    assert "  # sitemap (7 entries): https://a.example/sitemap.xml" in text.splitlines()


def test_sitemap_entries_does_not_expand_declared_entities() -> None:
    laughs = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [{laughs}]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&l9;</loc></url>'
        "</urlset>"
    ).encode()

    assert sitemap_entries(body) == 0  # the entity stays undefined: its <loc> is empty
