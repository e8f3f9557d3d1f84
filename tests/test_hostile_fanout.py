"""Sitemap fan-out is bounded (issue 16): children are fetched only until ``max_items`` distinct
items are known, a source reads at most ``MAX_DOCUMENTS`` documents per run, gzip'd documents
inflate only up to the decoded-body cap, and repeated entries cost a set lookup. Served on
127.0.0.1 and read by :func:`tasks.discover.read_feeds` with a real fetcher."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import pytest

import tasks.discover.sitemaps
from tasks.discover.discover import MAX_DOCUMENTS, read_feeds
from tasks.discover.sitemaps import parse_sitemap
from tasks.fetch.polite import fetch_pages
from tasks.records import FetchOutcome, ItemFilter
from tests.loopback import LoopbackServer, Route
from tests.test_hostile_documents import CONFIG, XML, index, urlset


def fetch(urls: Sequence[str]) -> list[FetchOutcome]:
    return fetch_pages(list(urls), CONFIG, kind="feed")


def fan_out(server: LoopbackServer, indexes: int, sitemaps: int) -> str:
    """An index of ``indexes`` indexes of ``sitemaps`` sitemaps of 3 URLs each."""
    top = []
    for i in range(indexes):
        children = []
        for j in range(sitemaps):
            path = f"/s/{i}/{j}.xml"
            locs = [f"http://news.example.test/{i}/{j}/{n}" for n in range(3)]
            server.routes[path] = Route(urlset(locs), headers=XML)
            children.append(server.url(path))
        server.routes[f"/i/{i}.xml"] = Route(index(children), headers=XML)
        top.append(server.url(f"/i/{i}.xml"))
    server.routes["/index.xml"] = Route(index(top), headers=XML)
    return server.url("/index.xml")


def test_read_feeds_stops_fetching_children_once_max_items_are_known(
    server: LoopbackServer,
) -> None:
    root = fan_out(server, indexes=30, sitemaps=30)

    result = read_feeds(fetch([root]), 5, fetch=fetch)

    assert len(result.items) == 5
    assert len(server.hits) <= 1 + 30 + 8  # not 931: the root, its indexes, one batch of sitemaps
    assert result.errors == []


def test_read_feeds_document_budget_bounds_a_source_whose_items_never_fill(
    server: LoopbackServer,
) -> None:
    root = fan_out(server, indexes=5, sitemaps=40)

    result = read_feeds(
        fetch([root]),
        5,
        fetch=fetch,
        screen=lambda i: None if "/wanted/" in i.url else ItemFilter.URL_FILTERED,
    )

    assert len(server.hits) == MAX_DOCUMENTS
    assert len(result.outcomes) == MAX_DOCUMENTS
    assert any("document budget reached" in e for e in result.errors)


def test_read_feeds_gzip_sitemap_inflates_only_to_the_decoded_body_cap(
    server: LoopbackServer,
) -> None:
    bomb = gzip.compress(urlset(["http://news.example.test/x"] * 100_000))  # ~4 MB inflated
    server.routes["/bomb.xml.gz"] = Route(bomb, headers={"Content-Type": "application/gzip"})
    server.routes["/good.xml"] = Route(urlset(["http://news.example.test/ok"]), headers=XML)
    urls = [server.url("/bomb.xml.gz"), server.url("/good.xml")]

    result = read_feeds(fetch(urls), 10, fetch=fetch, max_bytes=1_000_000)

    assert [o.reason for o in result.outcomes] == ["decompression_limit", "ok"]
    assert [i.url for i in result.items] == ["http://news.example.test/ok"]


def test_parse_sitemap_repeated_entries_are_canonicalized_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    from tasks.dedup.urls import canonicalize_url as real

    def counting(url: str, base: str | None = None) -> str | None:
        calls.append(url)
        return real(url, base)

    monkeypatch.setattr(tasks.discover.sitemaps, "canonicalize_url", counting)
    locs = ["http://news.example.test/same"] * 50_000 + ["http://news.example.test/other"]

    sitemap = parse_sitemap(urlset(locs), "http://news.example.test/sitemap.xml")

    assert [i.url for i in sitemap.items] == locs[-2:]
    assert len(calls) == 2
