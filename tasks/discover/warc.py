"""WARC archives (e.g. CC-NEWS, gzip'd or not): list the HTML responses, then read a few of them
back by offset as if they had just been fetched (no network)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from tasks.dedup.urls import canonicalize_url
from tasks.fetch.fetch import HTML_TYPES
from tasks.records import FeedItem, FetchOutcome


@dataclass(frozen=True, slots=True)
class WarcEntry:
    """One HTML response record: where it is in which file, and its URL."""

    path: str
    offset: int
    url: str
    canonical_url: str


def _media_type(record: Any) -> str:
    value = record.http_headers.get_header("Content-Type") or ""
    return str(value).split(";", 1)[0].strip().lower()


def _is_html_response(record: Any) -> bool:
    if record.rec_type != "response" or record.http_headers is None:
        return False
    status = record.http_headers.get_statuscode()
    return str(status) == "200" and _media_type(record) in HTML_TYPES


def scan_warc(path: str) -> Iterator[WarcEntry]:
    """The HTML 200 responses of a WARC file, in file order (each record's offset)."""
    with Path(path).open("rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            url = record.rec_headers.get_header("WARC-Target-URI")
            if not url or not _is_html_response(record):
                continue
            canonical = canonicalize_url(url)
            if canonical is not None:
                yield WarcEntry(path, records.get_record_offset(), url, canonical)


def _warc_date(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _outcome(entry: WarcEntry, record: Any, max_bytes: int) -> FetchOutcome:
    body = record.content_stream().read(max_bytes + 1)
    started = _warc_date(record.rec_headers.get_header("WARC-Date"))
    if len(body) > max_bytes:
        return FetchOutcome(entry.url, "page", "too_large", status_code=200, started_at=started)
    return FetchOutcome(
        url=entry.url,
        kind="page",
        reason="ok",
        final_url=entry.url,
        status_code=200,
        content_type=record.http_headers.get_header("Content-Type"),
        bytes_read=len(body),
        detail=f"from {Path(entry.path).name}",
        body=body,
        started_at=started or datetime.now(UTC),
        etag=record.http_headers.get_header("ETag"),
        last_modified=record.http_headers.get_header("Last-Modified"),
    )


def read_entries(entries: Sequence[WarcEntry], max_bytes: int) -> list[FetchOutcome]:
    """The archived responses of ``entries`` as fetch outcomes (bodies included), in order; an
    unreadable record is an outcome with reason ``warc_error``."""
    outcomes = []
    for entry in entries:
        try:
            with Path(entry.path).open("rb") as stream:
                stream.seek(entry.offset)
                record = next(iter(ArchiveIterator(stream)))
                outcomes.append(_outcome(entry, record, max_bytes))
        except (OSError, StopIteration, ArchiveLoadFailed, ValueError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:500]
            outcomes.append(FetchOutcome(entry.url, "page", "warc_error", detail=detail))
    return outcomes


def as_items(entries: Sequence[WarcEntry]) -> list[FeedItem]:
    return [FeedItem(url=e.url, canonical_url=e.canonical_url, feed_url=e.path) for e in entries]
