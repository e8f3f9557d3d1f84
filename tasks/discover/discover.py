"""Discovery: turn fetched documents into feed items. Feeds (``tasks/discover/feeds.py``),
sitemaps (``tasks/discover/sitemaps.py``) and URL lists (``tasks/discover/urllists.py``) are
dispatched to by the document's kind, detected from its bytes unless the source says which kind
it is."""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from tasks.discover.feeds import FeedParseError, parse_feed
from tasks.discover.isolate import IsolatedParser, ParseAborted
from tasks.discover.sitemaps import MAX_INFLATED, SitemapError, gunzip, parse_sitemap
from tasks.discover.urllists import is_local, looks_like_url_list, parse_url_list, read_local
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.polite import fetch_pages
from tasks.records import FeedItem, FeedState, FetchOutcome, ItemFilter, Reason, Recheck

MAX_DEPTH = 3  # sitemap index levels followed below a configured document
FILTERED_READ = 10  # with a URL filter, up to this many times the item limit is read per document
# Documents one source may fetch in one run, child sitemaps included: at the default 1 s delay per
# host that is under two minutes; a live source needs a handful, a fan-out of 931 took 15 minutes.
MAX_DOCUMENTS = 100
BACKFILL_DOCUMENTS = 2_000  # ... in a sitemap backfill (20 years of monthly sitemaps: 240)
CHILD_BATCH = 8  # child sitemaps fetched at a time (stop as soon as enough items are known)
KINDS = ("auto", "feed", "sitemap", "urls")
_PROLOG = re.compile(
    rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>|\s+)", re.S | re.I
)
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")

# Fetches documents (child sitemaps) politely, results in the order of the URLs given.
Fetcher = Callable[[Sequence[str]], list[FetchOutcome]]
# Screens an item by the source's filters: ``None`` keeps it, else why it is left out
# (``tasks.sources.SourceConfig.screen``).
Screen = Callable[[FeedItem], "ItemFilter | None"]


@dataclass(slots=True)
class FeedsRead:
    """What a source's fetched documents gave: unique items (first document wins), the fetch
    outcomes to record (child sitemaps included; bodies dropped, parse failures and warnings folded
    in), each document's new conditional-GET state, and what went wrong."""

    items: list[FeedItem] = field(default_factory=list)
    outcomes: list[FetchOutcome] = field(default_factory=list)
    states: list[FeedState] = field(default_factory=list)
    feeds_ok: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: Counter[ItemFilter] = field(default_factory=Counter)  # left out by the filters
    pending: list[str] = field(default_factory=list)  # child sitemaps not followed (no fetcher)


def conditional_headers(
    state: FeedState | None, now: datetime, revalidate_after: timedelta
) -> dict[str, str]:
    """``If-None-Match``/``If-Modified-Since`` for a feed we have seen, unless its server is not
    trusted with them or it is time for a periodic unconditional check."""
    if state is None or not state.conditional_ok or state.last_unconditional_at is None:
        return {}
    if now - state.last_unconditional_at >= revalidate_after:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def conditional_headers_for(recheck: Recheck) -> dict[str, str]:
    """Validators of an article's last fetch, for its conditional re-fetch."""
    headers = {}
    if recheck.etag:
        headers["If-None-Match"] = recheck.etag
    if recheck.last_modified:
        headers["If-Modified-Since"] = recheck.last_modified
    return headers


def _http_date(value: str | None) -> datetime | None:
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _contradicts_304(old: FeedState, outcome: FetchOutcome) -> bool:
    """A changed body that the server says predates, or has the validator of, an earlier 304."""
    if old.last_not_modified_at is None or old.body_hash is None:
        return False
    modified = _http_date(outcome.last_modified)
    if modified is not None and modified <= old.last_not_modified_at:
        return True
    return bool(outcome.etag and outcome.etag == old.etag)


def next_state(
    old: FeedState | None, outcome: FetchOutcome, conditional: bool, now: datetime
) -> FeedState | None:
    """The feed's state after this fetch (``None``: nothing to remember, e.g. a failure)."""
    old = old or FeedState(url=outcome.url)
    if outcome.reason == Reason.NOT_MODIFIED:
        return replace(old, last_not_modified_at=now)
    if not outcome.ok or outcome.body is None:
        return None
    body_hash = hashlib.sha256(outcome.body).hexdigest()
    trusted = old.conditional_ok
    if not conditional and body_hash != old.body_hash and _contradicts_304(old, outcome):
        trusted = False
    return replace(
        old,
        etag=outcome.etag,
        last_modified=outcome.last_modified,
        body_hash=body_hash,
        conditional_ok=trusted,
        last_unconditional_at=old.last_unconditional_at if conditional else now,
    )


def detect_kind(body: bytes) -> str:
    """``sitemap`` for a ``<urlset>``/``<sitemapindex>`` root, ``urls`` for a text list of URLs,
    else ``feed`` (feedparser copes with the rest, or says why not)."""
    if looks_like_url_list(body):
        return "urls"
    head = body[:8192].lstrip(b"\xef\xbb\xbf")
    position = 0
    while match := _PROLOG.match(head, position):
        if match.end() == position:
            break
        position = match.end()
    root = _ROOT.match(head, position)
    name = root.group(1).rsplit(b":", 1)[-1].lower() if root else b""
    return "sitemap" if name in (b"urlset", b"sitemapindex") else "feed"


@dataclass(frozen=True, slots=True)
class Document:
    """What one fetched document gave: items, child sitemaps to follow, a warning if malformed."""

    kind: str  # "feed" | "sitemap" | "sitemapindex" | "urls"
    items: list[FeedItem]
    children: list[str] = field(default_factory=list)
    warning: str | None = None


def parse_document(
    body: bytes,
    url: str,
    content_type: str | None = None,
    kind: str = "auto",
    limit: int | None = None,
    max_bytes: int = MAX_INFLATED,
) -> Document:
    """Parse a feed, sitemap (gzip'd or not) or URL list of the given kind (``auto``: detected).
    Raises :class:`FeedParseError` or :class:`SitemapError` (both carry ``reason``); gzip data
    inflating past ``max_bytes`` (the decoded-body cap) is ``decompression_limit``."""
    body = gunzip(body, max_bytes)
    kind = detect_kind(body) if kind == "auto" else kind
    try:
        return _parse_kind(body, url, content_type, kind, limit, max_bytes)
    except (FeedParseError, SitemapError):
        raise
    except Exception as exc:  # a parser bug fails this document only
        detail = f"{type(exc).__name__}: {exc}"[:300]
        if kind == "sitemap":
            raise SitemapError(Reason.SITEMAP_UNPARSEABLE, detail) from None
        raise FeedParseError(detail) from None


def _parse_kind(
    body: bytes, url: str, content_type: str | None, kind: str, limit: int | None, max_bytes: int
) -> Document:
    if kind == "urls":
        urls = parse_url_list(body, url, limit)
        return Document("urls", urls.items, warning=urls.warning)
    if kind == "sitemap":
        sitemap = parse_sitemap(body, url, limit if limit is not None else 50_000, max_bytes)
        return Document(sitemap.kind, sitemap.items, sitemap.children, sitemap.warning)
    feed = parse_feed(body, url, content_type, limit)
    return Document("feed", feed.items, warning=feed.warning)


# Parses a document as :func:`parse_document` does (in this process, or an isolated one).
Parse = Callable[[bytes, str, "str | None", str, "int | None", int], "Document"]


def _parse_outcome(
    outcome: FetchOutcome,
    kind: str = "auto",
    limit: int | None = None,
    max_bytes: int = MAX_INFLATED,
    parse: Parse | None = None,
) -> tuple[FetchOutcome, Document | None]:
    """Parse a fetched document: what it gave, or the outcome rewritten with why it is unusable."""
    assert outcome.body is not None
    url, content_type = outcome.final_url or outcome.url, outcome.content_type
    try:
        doc = (parse or parse_document)(outcome.body, url, content_type, kind, limit, max_bytes)
    except (FeedParseError, SitemapError, ParseAborted) as exc:
        return replace(outcome, reason=exc.reason, detail=str(exc)[:500]), None
    if doc.warning:
        label = "feed" if doc.kind == "feed" else doc.kind
        outcome = replace(outcome, detail=f"{label} warning: {doc.warning}"[:500])
    items = [replace(item, feed_url=outcome.url) for item in doc.items]
    return outcome, replace(doc, items=items)


def _unchanged(outcome: FetchOutcome, old: FeedState | None, new: FeedState | None) -> bool:
    if outcome.reason == Reason.NOT_MODIFIED:
        return True
    return bool(outcome.ok and old and new and old.body_hash and new.body_hash == old.body_hash)


@dataclass(slots=True)
class _Reader:
    """Collects a source's items across its documents, first document wins."""

    limit: int
    screen: Screen | None
    result: FeedsRead
    seen: dict[str, FeedItem] = field(default_factory=dict)
    budget: int = MAX_DOCUMENTS  # child documents this run may still fetch
    max_bytes: int = MAX_INFLATED  # a gzip'd document inflates to at most this
    parse: Parse | None = None  # None: parse_document in this process

    @property
    def cap(self) -> int:
        """Entries read of one document: room for the ones a URL filter drops."""
        return self.limit if self.screen is None else FILTERED_READ * self.limit

    @property
    def full(self) -> bool:
        return len(self.seen) >= self.limit

    def add(self, outcome: FetchOutcome, items: Sequence[FeedItem]) -> FetchOutcome:
        """Keep the items the screen passes; the document's outcome, with what the screen left
        out counted in its ``detail`` (and in the run's ``skipped``)."""
        skips: Counter[ItemFilter] = Counter()
        for item in items:
            reason = self.screen(item) if self.screen is not None else None
            if reason is None:
                self.seen.setdefault(item.canonical_url, item)
            else:
                skips[reason] += 1
        if not skips:
            return outcome
        self.result.skipped.update(skips)
        note = ", ".join(f"{reason}: {n}" for reason, n in sorted(skips.items()))
        note = f"filtered out {skips.total()} item(s) ({note})"
        detail = "; ".join(d for d in (outcome.detail, note) if d)
        return replace(outcome, detail=detail[:500])

    def fail(self, outcome: FetchOutcome) -> None:
        self.result.errors.append(f"{outcome.url}: {outcome.reason}")


def _fetch_children(
    reader: _Reader, todo: list[str], visited: set[str], fetch: Fetcher
) -> list[str]:
    """Fetch ``todo`` a few at a time until enough items are known or the budget is spent; the
    grandchildren found."""
    children: list[str] = []
    for start in range(0, len(todo), CHILD_BATCH):
        if reader.full or reader.budget <= 0:
            break
        group = todo[start : start + min(CHILD_BATCH, reader.budget)]
        visited.update(group)
        reader.budget -= len(group)
        for outcome in fetch(group):
            visited.add(outcome.final_url or outcome.url)
            doc = None
            if outcome.ok and outcome.body is not None:
                outcome, doc = _parse_outcome(
                    outcome, "auto", reader.cap, reader.max_bytes, reader.parse
                )
            if doc is None:
                reader.fail(outcome)
            else:
                outcome = reader.add(outcome, doc.items)
                children += doc.children
            reader.result.outcomes.append(replace(outcome, body=None))
    return children


def _follow(
    reader: _Reader, children: list[str], visited: set[str], fetch: Fetcher, max_depth: int
) -> None:
    """Fetch child sitemaps level by level (each URL once: loops end), up to ``max_depth``
    levels, until enough items are known or the document budget is spent."""
    for _level in range(max_depth):
        todo = [url for url in dict.fromkeys(children) if url not in visited]
        if not todo or reader.full:
            return
        children = _fetch_children(reader, todo, visited, fetch)
        left = sum(1 for url in todo if url not in visited) + len(children)
        if reader.budget <= 0 and left and not reader.full:
            reader.result.errors.append(
                f"document budget reached: {left} child sitemap(s) not fetched this run"
            )
            return
    if any(url not in visited for url in children):
        reader.result.errors.append(f"sitemap indexes nested deeper than {max_depth} levels")


def read_feeds(
    outcomes: Sequence[FetchOutcome],
    limit: int,
    states: Mapping[str, FeedState] | None = None,
    sent: Mapping[str, Mapping[str, str]] | None = None,
    now: datetime | None = None,
    *,
    kinds: Mapping[str, str] | None = None,
    fetch: Fetcher | None = None,
    screen: Screen | None = None,
    max_depth: int = MAX_DEPTH,
    max_documents: int = MAX_DOCUMENTS,
    max_bytes: int = MAX_INFLATED,
    parser: IsolatedParser | None = None,
) -> FeedsRead:
    """Read every fetched document of a source (feeds, sitemaps, URL lists; ``kinds`` maps a
    document URL to its configured kind, default ``auto``). A 304 or a body identical to the last
    one is zero further work; a broken document is an outcome with a reason. Child sitemaps of an
    index are fetched with ``fetch`` (without it they are listed in ``pending``); an index keeps
    no conditional-GET state, since its children change while it does not. ``screen`` (the
    source's filters) leaves items out before the ``limit`` applies, counted in ``skipped`` by
    reason and in each document's ``detail``. At most ``max_documents`` documents are read in all
    (children fetched a few at a time, none once ``limit`` items are known); a gzip'd one
    inflates to at most ``max_bytes``. With ``parser`` each document is parsed in its killable
    process (``parse_timeout``, ``parse_crashed``)."""
    now = now or datetime.now(UTC)
    result = FeedsRead()
    budget = max(0, max_documents - len(outcomes))
    parse = functools.partial(parser.call, parse_document) if parser is not None else None
    reader = _Reader(limit, screen, result, budget=budget, max_bytes=max_bytes, parse=parse)
    children: list[str] = []
    for outcome in outcomes:
        old = (states or {}).get(outcome.url)
        state = next_state(old, outcome, bool((sent or {}).get(outcome.url)), now)
        if _unchanged(outcome, old, state):
            result.feeds_ok += 1
            result.unchanged += 1
            if outcome.ok:
                outcome = replace(outcome, detail="unchanged since the last run")
        elif outcome.ok and outcome.body is not None:
            kind = (kinds or {}).get(outcome.url, "auto")
            outcome, doc = _parse_outcome(outcome, kind, reader.cap, max_bytes, parse)
            if doc is not None:
                result.feeds_ok += 1
                outcome = reader.add(outcome, doc.items)
                children += doc.children
                state = None if doc.kind == "sitemapindex" else state
        if not (outcome.ok or outcome.reason == Reason.NOT_MODIFIED):
            reader.fail(outcome)
        elif state is not None:  # remember only feeds that were read (a broken one is retried)
            result.states.append(state)
        result.outcomes.append(replace(outcome, body=None))
    if fetch is not None:
        visited = {o.url for o in outcomes} | {o.final_url for o in outcomes if o.final_url}
        _follow(reader, children, visited, fetch, max_depth)
    else:
        result.pending = children
    result.items = list(reader.seen.values())[:limit]
    return result


def fetch_documents(
    urls: Sequence[str],
    config: FetchConfig,
    hosts: HostRegistry,
    headers: dict[str, dict[str, str]] | None = None,
) -> list[FetchOutcome]:
    """Fetch a source's documents (feeds, sitemaps, URL lists) politely; ``file:`` ones are
    read from disk. Results keep the order of ``urls``."""
    remote = [u for u in urls if not is_local(u)]
    fetched = iter(fetch_pages(remote, config, kind="feed", hosts=hosts, headers=headers))
    return [read_local(u, config.max_feed_bytes) if is_local(u) else next(fetched) for u in urls]
