"""Discovery of one configured source, the one way every caller does it: the ingest flow
(``flows/steps.py:discover_items``), ``sources try`` and ``sources record``
(``tasks/authoring/``). Its documents are fetched with the source's headers (plus any
conditional ones) and read with the source's kinds, URL filter and child sitemaps fetched
through the same polite layer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from tasks.discover.discover import MAX_DOCUMENTS, FeedsRead, fetch_documents, read_feeds
from tasks.discover.isolate import IsolatedParser
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry
from tasks.records import FeedState, FetchOutcome
from tasks.sources import SourceConfig


def fetch_source_documents(
    source: SourceConfig,
    config: FetchConfig,
    hosts: HostRegistry,
    sent: Mapping[str, Mapping[str, str]] | None = None,
) -> list[FetchOutcome]:
    """The source's documents (feeds, sitemaps, URL lists), fetched with its headers and the
    conditional headers in ``sent`` (per URL; none: unconditionally)."""
    sent = sent or {}
    urls = list(source.documents)
    headers = {url: {**source.headers, **sent.get(url, {})} for url in urls}
    return fetch_documents(urls, config, hosts, headers)


def read_source(
    source: SourceConfig,
    fetched: list[FetchOutcome],
    limit: int,
    config: FetchConfig,
    hosts: HostRegistry,
    states: Mapping[str, FeedState] | None = None,
    sent: Mapping[str, Mapping[str, str]] | None = None,
    max_documents: int = MAX_DOCUMENTS,
    parser: IsolatedParser | None = None,
) -> FeedsRead:
    """``read_feeds`` over the source's fetched documents: its configured kinds, its filters (URL,
    title, age; what they leave out is counted), and child sitemaps fetched with its headers; at
    most ``max_documents`` documents, each decoded body capped at the configured feed size,
    parsed by ``parser`` (none: inline)."""
    return read_feeds(
        fetched,
        limit,
        states,
        sent,
        kinds=source.documents,
        fetch=lambda children: fetch_documents(
            children, config, hosts, {url: dict(source.headers) for url in children}
        ),
        screen=source.screen(datetime.now(UTC)),
        max_documents=max_documents,
        max_bytes=config.max_feed_bytes,
        parser=parser,
    )
