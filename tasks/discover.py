"""Discovery: turn a fetched feed document into feed items (RSS 0.9x/1.0/2.0 and Atom)."""

from __future__ import annotations

import calendar
import codecs
import hashlib
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from tasks.records import FeedItem, FeedState, FetchOutcome, Recheck
from tasks.urls import canonicalize_url

_TAG = re.compile(r"<[^>]*>")
MAX_TITLE = 500  # characters kept of a feed item's title


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    items: list[FeedItem]
    version: str
    warning: str | None = None  # set when the document was malformed but (partly) readable


class FeedParseError(Exception):
    """The document is not a feed at all; ``reason`` is a machine-readable code."""

    reason = "feed_unparseable"


_UTF16 = (
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)
_DOCTYPE_WITH_ENTITIES = re.compile(rb"<!DOCTYPE[^\[>]*\[[^\]]*<!ENTITY.*?\]\s*>", re.S | re.I)
_XML_ENCODING = re.compile(rb"(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def without_entity_declarations(body: bytes) -> bytes:
    """The document without a DOCTYPE that declares entities: feedparser would keep "safe"
    entities, and a few KB of flat ones expand to hundreds of MB (quadratic blowup). UTF-16
    documents are re-encoded as UTF-8 first so the same rule applies."""
    for prefix, encoding in _UTF16:
        if body.startswith(prefix):
            text = body.decode(encoding, "replace").lstrip("\ufeff").encode("utf-8")
            body = _XML_ENCODING.sub(rb"\1\2utf-8\2", text, count=1)
            break
    head, tail = body[:65536], body[65536:]
    if b"<!ENTITY" not in head.upper():
        return body
    return _DOCTYPE_WITH_ENTITIES.sub(b"", head, count=1) + tail


def _entry_link(entry: Any) -> str | None:
    link = entry.get("link")
    if link:
        return str(link)
    for candidate in entry.get("links", []):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    guid = entry.get("id")
    if entry.get("guidislink") and guid:
        return str(guid)
    return None


def _plain(value: Any) -> str | None:
    """Feed text without markup (some feeds put HTML in titles)."""
    if not value:
        return None
    text = html.unescape(_TAG.sub("", str(value))).strip()
    return " ".join(text.split())[:MAX_TITLE] or None


def _entry_date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # no feedparser fallback (and deprecation warning)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, limit: int | None = None
) -> ParsedFeed:
    """Parse feed bytes we fetched ourselves (feedparser never touches the network here).

    Item links are resolved against the feed URL; items without an http(s) link are dropped;
    items whose canonical URLs coincide are kept once, in feed order.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        io.BytesIO(without_entity_declarations(body)), response_headers=headers
    )
    warning = None
    if parsed.get("bozo") and not isinstance(parsed.bozo_exception, feedparser.NonXMLContentType):
        warning = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"[:300]
    if not parsed.entries and not parsed.get("version"):
        raise FeedParseError(warning or "not an RSS or Atom document")
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        if limit is not None and len(items) >= limit:
            break
        link = _entry_link(entry)
        absolute = urljoin(url, link.strip()) if link else None
        canonical = canonicalize_url(absolute) if absolute else None
        if absolute is None or canonical is None or canonical in seen:
            continue
        seen.add(canonical)
        title = entry.get("title")
        items.append(
            FeedItem(
                url=absolute,
                canonical_url=canonical,
                title=_plain(title),
                published_at=_entry_date(entry),
                guid=str(entry["id"]) if entry.get("id") else None,
            )
        )
    return ParsedFeed(items=items, version=str(parsed.get("version") or "unknown"), warning=warning)


@dataclass(slots=True)
class FeedsRead:
    """What a source's fetched feeds gave: unique items (first feed wins), the fetch outcomes to
    record (bodies dropped, parse failures and warnings folded in), each feed's new conditional-GET
    state, and what went wrong."""

    items: list[FeedItem] = field(default_factory=list)
    outcomes: list[FetchOutcome] = field(default_factory=list)
    states: list[FeedState] = field(default_factory=list)
    feeds_ok: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


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
    if outcome.reason == "not_modified":
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


def _parse_outcome(outcome: FetchOutcome) -> tuple[FetchOutcome, list[FeedItem] | None]:
    """Parse a fetched feed: its items, or the outcome rewritten with why it is not a feed."""
    assert outcome.body is not None
    try:
        feed = parse_feed(outcome.body, outcome.final_url or outcome.url, outcome.content_type)
    except FeedParseError as exc:
        return replace(outcome, reason=exc.reason, detail=str(exc)[:500]), None
    if feed.warning:
        outcome = replace(outcome, detail=f"feed warning: {feed.warning}")
    return outcome, feed.items


def _unchanged(outcome: FetchOutcome, old: FeedState | None, new: FeedState | None) -> bool:
    if outcome.reason == "not_modified":
        return True
    return bool(outcome.ok and old and new and old.body_hash and new.body_hash == old.body_hash)


def read_feeds(
    outcomes: Sequence[FetchOutcome],
    limit: int,
    states: Mapping[str, FeedState] | None = None,
    sent: Mapping[str, Mapping[str, str]] | None = None,
    now: datetime | None = None,
) -> FeedsRead:
    """Parse every fetched feed of a source. A 304 or a body identical to the last one is zero
    further work; a broken feed is an outcome with a reason."""
    now = now or datetime.now(UTC)
    result = FeedsRead()
    seen: dict[str, FeedItem] = {}
    for outcome in outcomes:
        old = (states or {}).get(outcome.url)
        state = next_state(old, outcome, bool((sent or {}).get(outcome.url)), now)
        if _unchanged(outcome, old, state):
            result.feeds_ok += 1
            result.unchanged += 1
            if outcome.ok:
                outcome = replace(outcome, detail="unchanged since the last run")
        elif outcome.ok and outcome.body is not None:
            outcome, items = _parse_outcome(outcome)
            if items is not None:
                result.feeds_ok += 1
                for item in items:
                    seen.setdefault(item.canonical_url, item)
        if not (outcome.ok or outcome.reason == "not_modified"):
            result.errors.append(f"{outcome.url}: {outcome.reason}")
        elif state is not None:  # remember only feeds that were read (a broken one is retried)
            result.states.append(state)
        result.outcomes.append(replace(outcome, body=None))
    result.items = list(seen.values())[:limit]
    return result
