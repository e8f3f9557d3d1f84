"""WARC backfill on damaged archives (issue 16): garbage between records is skipped to the next
record with a reason, a second archive of the same command is read as usual, and a record cut off
mid-payload is ``warc_truncated``, never stored as a complete article (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.engine import transaction
from storage.models import Article, Fetch
from tasks.discover.warc import read_entries, scan_warc

WORDS = " ".join(f"word{i}" for i in range(80))


def page(n: int) -> bytes:
    return (
        f"<html><head><title>Story {n}</title></head><body><article><p>Story number {n} "
        f"begins on a rainy evening in town. {WORDS}.</p><p>It goes on about roads and schools "
        f"{n}. {WORDS}.</p></article></body></html>"
    ).encode()


def records(numbers: list[int], gzip: bool) -> list[bytes]:
    """Each response record on its own, as a WARC writer writes it."""
    out = []
    for n in numbers:
        stream = io.BytesIO()
        writer = WARCWriter(stream, gzip=gzip)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            f"https://news.example.test/story/{n}",
            "response",
            payload=io.BytesIO(page(n)),
            http_headers=headers,
        )
        writer.write_record(record)
        out.append(stream.getvalue())
    return out


GARBAGE = b"this is not a WARC record\r\n\x00\x01garbage" * 20


@pytest.mark.parametrize("gzip", [True, False], ids=["gz", "plain"])
def test_scan_warc_skips_garbage_between_records_to_the_next_one(
    tmp_path: Path, gzip: bool
) -> None:
    one, two, three = records([1, 2, 3], gzip)
    path = tmp_path / ("a.warc.gz" if gzip else "a.warc")
    path.write_bytes(one + GARBAGE + two + GARBAGE + three)

    scan = scan_warc(str(path))

    assert [e.url.rsplit("/", 1)[1] for e in scan.entries] == ["1", "2", "3"]
    assert [p.reason for p in scan.problems] == ["warc_skipped", "warc_skipped"]
    skipped = int((scan.problems[0].detail or "").split()[0])
    assert len(GARBAGE) <= skipped <= len(GARBAGE) + 4  # the record's closing blank lines too
    fetched = read_entries(scan.entries, 1_000_000)
    assert [f.reason for f in fetched] == ["ok", "ok", "ok"]


@pytest.mark.parametrize("gzip", [True, False], ids=["gz", "plain"])
def test_read_entries_record_cut_mid_payload_is_warc_truncated(tmp_path: Path, gzip: bool) -> None:
    one, two = records([1, 2], gzip=False)
    path = tmp_path / "cut.warc"
    path.write_bytes(one + two[: len(two) - 600])  # the second page loses its last 600 bytes
    if gzip:
        import gzip as gz

        path = tmp_path / "cut.warc.gz"
        path.write_bytes(gz.compress(one) + gz.compress(two)[:-300])

    scan = scan_warc(str(path))
    fetched = read_entries(scan.entries, 1_000_000)

    assert fetched[0].reason == "ok"
    if gzip:  # the damaged gzip member is no record at all: skipped at the scan
        assert len(fetched) == 1
        (problem,) = scan.problems
        assert problem.reason == "warc_skipped" and "end of the file" in (problem.detail or "")
    else:  # the record's header is whole, its payload short
        assert [f.reason for f in fetched[1:]] == ["warc_truncated"]
        assert fetched[1].body is None
        assert "bytes before its Content-Length" in (fetched[1].detail or "")


def test_backfill_garbage_and_truncation_cost_only_their_records(
    monkeypatch: pytest.MonkeyPatch, migrated_db: str, tmp_path: Path
) -> None:
    from flows.backfill import backfill_news

    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "0")
    one, two, three = records([1, 2, 3], gzip=True)
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(one + GARBAGE + two)
    plain_one, plain_four = records([11, 4], gzip=False)
    cut = tmp_path / "cut.warc"
    cut.write_bytes(plain_one + plain_four[:-600])
    intact = tmp_path / "intact.warc.gz"
    intact.write_bytes(three)
    not_warc = tmp_path / "notes.warc"
    not_warc.write_bytes(b"just some notes\n")

    report = backfill_news(warcs=[str(damaged), str(not_warc), str(cut), str(intact)])

    assert report.status == "completed", report.errors
    with transaction(migrated_db) as session:
        stored = set(session.scalars(select(Article.url)))
        reasons = {(Path(f.url).name, f.reason) for f in session.scalars(select(Fetch))}
    base = "https://news.example.test/story/"
    assert stored == {base + n for n in ("1", "2", "3", "11")}
    assert ("damaged.warc.gz", "warc_skipped") in reasons
    assert ("notes.warc", "warc_skipped") in reasons
    assert ("4", "warc_truncated") in reasons
