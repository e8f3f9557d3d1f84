"""Plain records passed between the pipeline's steps and into storage (the contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed: where it points and what the feed says about it.

    ``url`` is the link as published (made absolute), which is what we fetch; ``canonical_url`` is
    its canonical spelling, which is what "already stored?" looks up.
    """

    url: str
    canonical_url: str
    title: str | None = None
    published_at: datetime | None = None
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """One HTTP attempt. ``reason`` is a machine-readable code: ``ok`` or why it failed."""

    url: str
    kind: str  # "feed" | "page"
    reason: str
    final_url: str | None = None
    status_code: int | None = None
    content_type: str | None = None
    duration_ms: int = 0
    bytes_read: int = 0
    detail: str | None = None
    body: bytes | None = field(default=None, repr=False)
    started_at: datetime | None = None
    attempts: int = 1
    etag: str | None = None
    last_modified: str | None = None
    defer_host: bool = False  # the server asked us to come back later than we are willing to wait

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


@dataclass(frozen=True, slots=True)
class Recheck:
    """A recently stored article due for a conditional re-fetch (revision detection)."""

    article_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about a feed between runs, for conditional GET."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    conditional_ok: bool = True  # False once a server's 304 was contradicted by a changed body
    last_not_modified_at: datetime | None = None
    last_unconditional_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """What extraction made of one fetched page, normalized and hashed."""

    url: str
    canonical_url: str
    text: str
    content_hash: str
    title: str | None = None
    description: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    date_source: str | None = None  # "page" (page metadata) or "url" (a /2024/05/17/ path)
    site_name: str | None = None
    language: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()
    word_count: int = 0
    minhash: bytes = b""  # MinHash signature of the text (near-duplicate detection)
    bands: tuple[int, ...] = ()  # its LSH band hashes


@dataclass(frozen=True, slots=True)
class PageResult:
    """A fetched page and, if extraction worked, its article; otherwise the fetch row says why."""

    fetch: FetchOutcome
    item: FeedItem
    article: ExtractedArticle | None = None


@dataclass(slots=True)
class RunCounts:
    """Per-source counts of one ingest run (what the summary table and ``ingest_runs`` show)."""

    feed_items: int = 0
    fetched: int = 0
    new: int = 0
    already_stored: int = 0
    duplicates: int = 0
    failed: int = 0
    revised: int = 0

    def add(self, other: RunCounts) -> None:
        self.feed_items += other.feed_items
        self.fetched += other.fetched
        self.new += other.new
        self.already_stored += other.already_stored
        self.duplicates += other.duplicates
        self.failed += other.failed
        self.revised += other.revised
