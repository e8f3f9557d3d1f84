"""Feeds: RSS 0.9x/1.0/2.0 and Atom documents -> feed items, read with feedparser from bytes we
fetched ourselves (feedparser never touches the network here). Every string taken from a feed is
sanitised like page text; one broken entry is skipped, not the document."""

from __future__ import annotations

import calendar
import html
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from tasks.dedup.urls import SkippedEntry, canonicalize_url, resolve_link, skipped_note
from tasks.discover.xmlsafe import as_markup_safe, without_entity_declarations
from tasks.extract.safetext import strip_unsafe
from tasks.records import EntrySkip, FeedItem, Reason

_TAG = re.compile(r"<[^>]*>")
MAX_TITLE = 500  # characters kept of a feed item's title
MAX_SUMMARY = 2000  # characters kept of a feed item's summary
_ENTRY_END = re.compile(rb"</(?:[\w-]+:)?(?:item|entry)\s*>", re.I)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    items: list[FeedItem]
    version: str
    warning: str | None = None  # set when the document was malformed but (partly) readable


class FeedParseError(Exception):
    """The document is not a feed at all; ``reason`` is a machine-readable code."""

    reason = Reason.FEED_UNPARSEABLE


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


def _plain(value: Any, limit: int = MAX_TITLE) -> str | None:
    """Feed text without markup (some feeds put HTML in titles)."""
    if not value:
        return None
    text = strip_unsafe(html.unescape(_TAG.sub("", str(value))))
    return " ".join(text.split())[:limit] or None


def _entry_date(
    entry: Any, keys: Sequence[str] = ("published_parsed", "updated_parsed", "created_parsed")
) -> datetime | None:
    for key in keys:
        value = dict.get(entry, key)  # no feedparser fallback (and deprecation warning)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _feed_item(entry: Any, url: str, canonical: str, feed_url: str) -> FeedItem:
    terms = (_plain(t.get("term") or t.get("label"), 255) for t in entry.get("tags") or [])
    return FeedItem(
        url=url,
        canonical_url=canonical,
        title=_plain(entry.get("title")),
        published_at=_entry_date(entry),
        guid=strip_unsafe(str(entry["id"])).strip()[:1000] or None if entry.get("id") else None,
        updated_at=_entry_date(entry, ("updated_parsed",)),
        author=_plain(entry.get("author"), 500),
        summary=_plain(entry.get("summary"), MAX_SUMMARY),
        categories=tuple(dict.fromkeys(t for t in terms if t)),
        feed_url=feed_url,
    )


def _cut_after(body: bytes, entries: int) -> bytes | None:
    """The document cut after its ``entries``-th item, if it has more (feedparser's tolerant
    mode reads the rest; parsing 100,000 entries to keep 500 would take a minute)."""
    for count, match in enumerate(_ENTRY_END.finditer(body), 1):
        if count == entries:
            return body[: match.end()] if _ENTRY_END.search(body, match.end()) else None
    return None


def _feedparser(body: bytes, url: str, content_type: str | None) -> Any:
    """feedparser's result; anything it raises (it has raised on character references naming a
    surrogate) makes the document unparseable, with the exception named."""
    body, content_type = as_markup_safe(body, content_type)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        return feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # a parser bug fails this document only
        raise FeedParseError(f"{type(exc).__name__}: {exc}"[:300]) from None


def _entry_item(entry: Any, url: str) -> FeedItem | None:
    """The entry as an item (``None`` without an http(s) link); :class:`SkippedEntry` when its
    link is broken or too long."""
    link = _entry_link(entry)
    absolute = resolve_link(url, link) if link else None
    canonical = canonicalize_url(absolute) if absolute else None
    if absolute is None or canonical is None:
        return None
    return _feed_item(entry, absolute, canonical, url)


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, limit: int | None = None
) -> ParsedFeed:
    """Parse feed bytes. Item links are resolved against the feed URL; items without an http(s)
    link are dropped; items whose canonical URLs coincide are kept once, in feed order; an entry
    with a broken or over-long link, or one that cannot be read, is skipped and counted in the
    warning."""
    body = without_entity_declarations(body, content_type)
    keep = 2 * limit + 50 if limit is not None else None  # room for link-less and repeats
    cut = _cut_after(body, keep) if keep is not None else None
    parsed = _feedparser(cut or body, url, content_type)
    warnings: list[str | None] = []
    if cut is not None:
        warnings.append(f"more than {keep} entries; the rest skipped")
    elif parsed.get("bozo") and not isinstance(parsed.bozo_exception, feedparser.NonXMLContentType):
        warnings.append(f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"[:300])
    if not parsed.entries and not parsed.get("version"):
        raise FeedParseError(warnings[0] if warnings else "not an RSS or Atom document")
    items: dict[str, FeedItem] = {}
    skips: Counter[str] = Counter()
    for entry in parsed.entries:
        if limit is not None and len(items) >= limit:
            break
        try:
            item = _entry_item(entry, url)
        except SkippedEntry as exc:
            skips[exc.reason] += 1
            continue
        except Exception:  # one unreadable entry is skipped, not the feed
            skips[EntrySkip.ENTRY_ERROR] += 1
            continue
        if item is not None:
            items.setdefault(item.canonical_url, item)
    warnings.append(skipped_note(skips))
    warning = "; ".join(w for w in warnings if w) or None
    return ParsedFeed(list(items.values()), str(parsed.get("version") or "unknown"), warning)
