"""WARC archives (e.g. CC-NEWS, gzip'd or not): list the HTML responses, then read a few of them
back by offset as if they had just been fetched (no network)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from tasks.dedup.urls import canonicalize_url
from tasks.fetch.fetch import HTML_TYPES
from tasks.records import FeedItem, FetchOutcome, Reason


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


_READ_ERRORS = (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error)
_GZIP_MEMBER = re.compile(rb"\x1f\x8b\x08")
_WARC_RECORD = re.compile(rb"WARC/1\.[01]\r?\n")
_CHUNK = 1 << 20


@dataclass(slots=True)
class WarcScan:
    """What scanning archives found: the HTML responses, and a fetch-like outcome (``url`` the
    file) for every stretch that was not a readable record (``warc_skipped``) or an archive that
    could not be read at all (``warc_error``)."""

    entries: list[WarcEntry] = field(default_factory=list)
    problems: list[FetchOutcome] = field(default_factory=list)


def _next_record(stream: BinaryIO, start: int, gzipped: bool) -> int | None:
    """Where the next record may begin at or after ``start``: a gzip member's magic bytes, or a
    ``WARC/1.x`` line; ``None`` at the end of the file."""
    pattern = _GZIP_MEMBER if gzipped else _WARC_RECORD
    position = start
    while True:
        stream.seek(position)
        chunk = stream.read(_CHUNK + 16)
        if not chunk:
            return None
        match = pattern.search(chunk)
        if match is not None:
            return position + match.start()
        if len(chunk) <= 16:
            return None
        position += _CHUNK


def _scan_from(stream: BinaryIO, start: int, path: str, scan: WarcScan) -> int | None:
    """Read records from ``start`` until the end (``None``) or a stretch that is not a record:
    then the offset where it begins."""
    stream.seek(start)
    records = ArchiveIterator(stream)
    end = start
    try:
        for record in records:
            offset = records.get_record_offset()
            end = offset + records.get_record_length()  # the record is read to its end
            url = record.rec_headers.get_header("WARC-Target-URI")
            if not url or not _is_html_response(record):
                continue
            canonical = canonicalize_url(url)
            if canonical is not None:
                scan.entries.append(WarcEntry(path, offset, url, canonical))
    except _READ_ERRORS:
        return end
    stream.seek(end)  # warcio ends quietly at a cut-off gzip member: what is left is no record
    return end if stream.read(_CHUNK).strip() else None


def scan_warc(path: str, scan: WarcScan | None = None) -> WarcScan:
    """The HTML 200 responses of a WARC file, in file order (each record's offset). Bytes that
    are not a record (garbage between records, a damaged member) are skipped to the next record,
    each stretch a ``warc_skipped`` problem; an unreadable file is one ``warc_error``."""
    scan = scan if scan is not None else WarcScan()
    try:
        with Path(path).open("rb") as stream:
            gzipped = stream.read(2) == b"\x1f\x8b"
            position: int | None = 0
            while position is not None:
                bad = _scan_from(stream, position, path, scan)
                if bad is None:
                    break
                position = _next_record(stream, bad + 1, gzipped)
                skipped = (position if position is not None else stream.seek(0, 2)) - bad
                detail = f"{skipped} bytes at offset {bad} are not a WARC record: skipped"
                if position is None:
                    detail += " (to the end of the file: a truncated record or trailing garbage)"
                scan.problems.append(FetchOutcome(path, "feed", Reason.WARC_SKIPPED, detail=detail))
    except OSError as exc:
        detail = f"{type(exc).__name__}: {exc}"[:500]
        scan.problems.append(FetchOutcome(path, "feed", Reason.WARC_ERROR, detail=detail))
    return scan


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
        return FetchOutcome(
            entry.url, "page", Reason.TOO_LARGE, status_code=200, started_at=started
        )
    missing = getattr(record.raw_stream, "limit", 0)  # declared Content-Length never read
    if missing:
        detail = f"record ends {missing} bytes before its Content-Length ({record.length})"
        return FetchOutcome(
            entry.url, "page", Reason.WARC_TRUNCATED, detail=detail, started_at=started
        )
    return FetchOutcome(
        url=entry.url,
        kind="page",
        reason=Reason.OK,
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
        except (StopIteration, *_READ_ERRORS) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:500]
            outcomes.append(FetchOutcome(entry.url, "page", Reason.WARC_ERROR, detail=detail))
    return outcomes


def as_items(entries: Sequence[WarcEntry]) -> list[FeedItem]:
    return [FeedItem(url=e.url, canonical_url=e.canonical_url, feed_url=e.path) for e in entries]
