"""URL lists: plain text, one URL per line (``#`` comments and blank lines ignored), served over
HTTP or read from a local ``file:`` path."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tasks.dedup.urls import SkippedEntry, canonicalize_url, resolve_link, skipped_note
from tasks.records import FeedItem, FetchOutcome, Reason

MAX_LOCAL_BYTES = 50_000_000


def is_local(url: str) -> bool:
    return url.lower().startswith("file:")


def local_path(url: str) -> Path:
    """``file:relative/list.txt`` (relative to the working directory), ``file:/abs/list.txt`` or
    ``file:///abs/list.txt`` as a path."""
    return Path(unquote(urlsplit(url).path))


def read_local(url: str, limit: int = MAX_LOCAL_BYTES) -> FetchOutcome:
    """A local document as if fetched: ``ok`` with its bytes, or a reason (no network)."""
    started, clock = datetime.now(UTC), time.monotonic()
    path = local_path(url)
    try:
        with path.open("rb") as stream:
            body = stream.read(limit + 1)
    except OSError as exc:
        return FetchOutcome(
            url, "feed", Reason.FILE_ERROR, detail=str(exc)[:500], started_at=started
        )
    if len(body) > limit:
        return FetchOutcome(
            url, "feed", Reason.TOO_LARGE, detail=f"over {limit} bytes", started_at=started
        )
    return FetchOutcome(
        url=url,
        kind="feed",
        reason=Reason.OK,
        final_url=url,
        duration_ms=int((time.monotonic() - clock) * 1000),
        bytes_read=len(body),
        body=body,
        started_at=started,
    )


def looks_like_url_list(body: bytes) -> bool:
    """True when the first line that is not blank or a comment is an http(s) URL."""
    for raw in body[:4096].splitlines():
        line = raw.strip().lstrip(b"\xef\xbb\xbf")
        if not line or line.startswith(b"#"):
            continue
        return line.lower().startswith((b"http://", b"https://"))
    return False


@dataclass(frozen=True, slots=True)
class UrlList:
    items: list[FeedItem]
    warning: str | None = None  # skipped lines, by reason


def parse_url_list(body: bytes, url: str, limit: int | None = None) -> UrlList:
    """The list's URLs in order as items (the first token of each line; relative ones resolved
    against ``url``), canonical duplicates and non-http(s) lines dropped; a broken or over-long
    URL is skipped and counted in the warning."""
    items: dict[str, FeedItem] = {}
    skips: Counter[str] = Counter()
    base = url if not is_local(url) else ""
    for raw in body.decode("utf-8", "replace").lstrip("\ufeff").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if limit is not None and len(items) >= limit:
            break
        try:
            absolute = resolve_link(base, line.split()[0])
        except SkippedEntry as exc:
            skips[exc.reason] += 1
            continue
        canonical = canonicalize_url(absolute)
        if canonical is not None:
            items.setdefault(
                canonical, FeedItem(url=absolute, canonical_url=canonical, feed_url=url)
            )
    return UrlList(list(items.values()), skipped_note(skips))
