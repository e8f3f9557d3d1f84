"""Discovery: turn a fetched feed document into feed items (RSS 0.9x/1.0/2.0 and Atom)."""

from __future__ import annotations

import calendar
import dataclasses
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from tasks.records import FeedItem, FetchOutcome
from tasks.urls import canonicalize_url

_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    items: list[FeedItem]
    version: str
    warning: str | None = None  # set when the document was malformed but (partly) readable


class FeedParseError(Exception):
    """The document is not a feed at all; ``reason`` is a machine-readable code."""

    reason = "feed_unparseable"


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
    return " ".join(text.split()) or None


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
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
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
    record (bodies dropped, parse failures and warnings folded in), and what went wrong."""

    items: list[FeedItem] = field(default_factory=list)
    outcomes: list[FetchOutcome] = field(default_factory=list)
    feeds_ok: int = 0
    errors: list[str] = field(default_factory=list)


def read_feeds(outcomes: Sequence[FetchOutcome], limit: int) -> FeedsRead:
    """Parse every fetched feed of a source; a broken feed is an outcome with a reason."""
    result = FeedsRead()
    seen: dict[str, FeedItem] = {}
    for outcome in outcomes:
        if outcome.ok and outcome.body is not None:
            try:
                feed = parse_feed(
                    outcome.body, outcome.final_url or outcome.url, outcome.content_type
                )
            except FeedParseError as exc:
                outcome = dataclasses.replace(outcome, reason=exc.reason, detail=str(exc)[:500])
            else:
                result.feeds_ok += 1
                if feed.warning:
                    outcome = dataclasses.replace(outcome, detail=f"feed warning: {feed.warning}")
                for item in feed.items:
                    seen.setdefault(item.canonical_url, item)
        if not outcome.ok:
            result.errors.append(f"{outcome.url}: {outcome.reason}")
        result.outcomes.append(dataclasses.replace(outcome, body=None))
    result.items = list(seen.values())[:limit]
    return result
