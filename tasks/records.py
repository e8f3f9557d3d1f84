"""Plain records passed between the pipeline's steps and into storage (the contract)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum, unique
from importlib.metadata import PackageNotFoundError, version


@unique
class Reason(StrEnum):
    """The machine-readable ``reason`` of a fetch row or of an extraction: the README's reason
    table, one member per row (``http_<status>`` is built by :func:`http_reason`). Members are
    strings, so they compare equal to, and are stored as, their values."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    TIMEOUT = "timeout"
    CONN_ERROR = "conn_error"
    DNS_ERROR = "dns_error"
    TLS_ERROR = "tls_error"
    TOO_LARGE = "too_large"
    DECOMPRESSION_LIMIT = "decompression_limit"
    DECODING_ERROR = "decoding_error"
    NOT_HTML = "not_html"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BLOCKED_ADDRESS = "blocked_address"
    BLOCKED_PORT = "blocked_port"
    BLOCKED_SCHEME = "blocked_scheme"
    BLOCKED_USERINFO = "blocked_userinfo"
    INVALID_URL = "invalid_url"
    ROBOTS_DISALLOWED = "robots_disallowed"
    HOST_SKIPPED = "host_skipped"
    FEED_UNPARSEABLE = "feed_unparseable"
    SITEMAP_UNPARSEABLE = "sitemap_unparseable"
    URL_TOO_LONG = "url_too_long"
    PARSE_TIMEOUT = "parse_timeout"
    PARSE_CRASHED = "parse_crashed"
    FILE_ERROR = "file_error"
    WARC_ERROR = "warc_error"
    WARC_SKIPPED = "warc_skipped"
    WARC_TRUNCATED = "warc_truncated"
    NO_EXTRACTABLE_TEXT = "no_extractable_text"
    TOO_SHORT = "too_short"
    CONSENT_OR_PAYWALL = "consent_or_paywall"
    EXTRACT_ERROR = "extract_error"
    EXTRACT_TIMEOUT = "extract_timeout"
    EXTRACT_CRASHED = "extract_crashed"
    EXTRACT_MEMORY = "extract_memory"
    HTML_TOO_LARGE = "html_too_large"
    DUPLICATE_TEXT = "duplicate_text"


@unique
class EntrySkip(StrEnum):
    """Why one entry of a feed, sitemap or URL list was skipped (counted in its document's
    fetch-row ``detail``; the document itself is read)."""

    INVALID_URL = "invalid_url"
    URL_TOO_LONG = "url_too_long"
    ENTRY_ERROR = "entry_error"


@unique
class ItemFilter(StrEnum):
    """Why a source's own filters left an item of a document out (counted in the document's
    fetch-row ``detail``; ``tasks.sources.SourceConfig.skip_reason``)."""

    URL_FILTERED = "url_filtered"  # include / exclude
    TITLE_FILTERED = "title_filtered"  # include_title / exclude_title
    TOO_OLD = "too_old"  # max_age_days


def http_reason(status: int) -> str:
    """The reason of a final response that is not 200 or 304: ``http_404``, ``http_503``..."""
    return f"http_{status}"


# Fetch answers that are not failures (a feed's 304 is the cheapest success there is).
OK_REASONS: tuple[str, ...] = (Reason.OK.value, Reason.NOT_MODIFIED.value)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed, sitemap or URL list: where it points and what the document says
    about it (stored in ``feed_items``; the article falls back to it where extraction has none).

    ``url`` is the link as published (made absolute), which is what we fetch; ``canonical_url`` is
    its canonical spelling, which is what "already stored?" looks up. ``feed_url`` is the document
    the item was read from.
    """

    url: str
    canonical_url: str
    title: str | None = None
    published_at: datetime | None = None
    guid: str | None = None
    updated_at: datetime | None = None
    author: str | None = None  # as the feed gives it (may name several people)
    summary: str | None = None  # plain text
    categories: tuple[str, ...] = ()
    feed_url: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """Per-source extraction switches (trafilatura's), passed to the extraction workers."""

    favor_precision: bool = False  # trafilatura defaults measured best (bench/extraction.py)
    favor_recall: bool = False
    include_tables: bool = True
    include_comments: bool = False


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
    cache_control: str | None = None  # the response's header (robots.txt is kept by its max-age)
    defer_host: bool = False  # the server asked us to come back later than we are willing to wait

    @property
    def ok(self) -> bool:
        return self.reason == Reason.OK


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


@functools.cache
def trafilatura_version() -> str:
    """The installed trafilatura's version (what ``articles.extractor_version`` records)."""
    try:
        return version("trafilatura")
    except PackageNotFoundError:  # pragma: no cover - trafilatura is a dependency
        return "unknown"


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
    site_name: str | None = None
    language: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()
    word_count: int = 0
    minhash: bytes = b""  # MinHash signature of the text (near-duplicate detection)
    bands: tuple[int, ...] = ()  # its LSH band hashes
    # Where title, date and authors came from: "page", "url" (date only), "feed"; None if absent.
    date_source: str | None = None
    title_source: str | None = None
    authors_source: str | None = None
    # Keys of the text's lines before the source's boilerplate was stripped
    # (tasks/dedup/boilerplate.py)
    line_keys: tuple[str, ...] = ()
    extractor: str = "trafilatura"  # what made the text, and its version
    extractor_version: str = field(default_factory=trafilatura_version)
    # Access: the page's JSON-LD isAccessibleForFree (None: not stated), and whether the body is
    # only the teaser a paywall shows (tasks/extract/access.py).
    accessible_for_free: bool | None = None
    paywall_teaser: bool = False


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    """What extracting one page gave: its article, or why there is none."""

    url: str
    article: ExtractedArticle | None
    reason: str = Reason.OK  # machine-readable when article is None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A feed item and the fetch of its URL (the body still in ``fetch``), carried together from
    the fetch on."""

    item: FeedItem
    fetch: FetchOutcome

    @property
    def extractable(self) -> bool:
        """Fetched with a body: extraction's input."""
        return self.fetch.ok and self.fetch.body is not None


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """A fetched page and, when it was extractable, its extraction (``None`` otherwise)."""

    page: FetchedPage
    extraction: ExtractionResult | None = None


@dataclass(frozen=True, slots=True)
class PageLines:
    """One stored page as boilerplate learning sees it: its canonical URL, the keys of its lines
    before stripping, and (key, text) of the lines its stored text still holds."""

    url: str
    keys: tuple[str, ...]
    texts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RawPage:
    """A fetched page body as stored for re-extraction (``raw_pages``): compressed bytes."""

    url: str  # the URL the body came from (after redirects)
    content_type: str | None
    body: bytes = field(repr=False)  # compressed with ``encoding``
    size: int  # bytes before compression
    encoding: str = "zstd"  # tasks/extract/rawhtml.py; rows written before 2026-12 are "zlib"


@dataclass(frozen=True, slots=True)
class PageResult:
    """What :func:`storage.articles.store_pages` takes: a fetched page (its body dropped) and, if
    extraction worked, its article; otherwise the fetch row says why."""

    fetch: FetchOutcome
    item: FeedItem
    article: ExtractedArticle | None = None
    raw: RawPage | None = None  # the page's body, compressed (stored in raw_pages)


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


@dataclass(frozen=True, slots=True)
class RobotsRecord:
    """A host's robots.txt answer as kept across runs (``robots_files``): the status and, for a
    2xx, the text (``tasks.fetch.robots.rules_of`` reads its rules)."""

    host: str  # tasks.fetch.hosts.host_key
    status_code: int
    body: str
    fetched_at: datetime
    expires_at: datetime
