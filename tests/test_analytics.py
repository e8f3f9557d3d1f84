"""Export, stats and prune on SQLite and on the real PostgreSQL, and the three commands as an
operator runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy import text as sql_text

from flows.cli.analytics import ExportFormat, write_export
from storage import analytics, runs, sql
from storage.engine import snapshot, transaction
from storage.models import (
    Article,
    ArticleAuthor,
    ArticleRevision,
    ArticleURL,
    Fetch,
    IngestRun,
    Source,
    UTCDateTime,
)
from tests.analytics_data import DIALECTS, Filled, fill, filled_databases, newsroom

NEWSFLOW = Path(sys.executable).with_name("newsflow")

newsrooms = pytest.fixture(scope="module", name="newsrooms")(filled_databases)


def exported(db_url: str, fmt: ExportFormat, **filters: object) -> str:
    out = io.StringIO()
    write_export(analytics.export_rows(db_url, **filters), fmt, out)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_export_csv_has_a_header_and_every_article(newsrooms: Filled, dialect: str) -> None:
    db_url, room = newsroom(newsrooms, dialect)

    rows = list(csv.DictReader(io.StringIO(exported(db_url, ExportFormat.csv), newline="")))

    assert tuple(rows[0]) == analytics.EXPORT_COLUMNS
    assert [r["url"] for r in rows] == [u for urls in room.urls.values() for u in urls]
    assert [int(r["article_id"]) for r in rows] == sorted(int(r["article_id"]) for r in rows)
    harbour, copy = rows[0], rows[4]
    assert harbour["authors"] == "Jane Doe; John Roe" and harbour["language"] == "en"
    assert (copy["is_duplicate"], copy["cluster_id"]) == ("1", harbour["article_id"])
    assert datetime.fromisoformat(harbour["published_at"]).tzinfo is not None
    assert "\n\n" in harbour["text"]  # paragraphs survive the quoting
    with transaction(db_url) as session:
        assert harbour["text"] == session.scalars(select(Article.text).limit(1)).one()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_export_jsonl_writes_one_object_per_line_with_iso_dates(
    newsrooms: Filled, dialect: str
) -> None:
    db_url, room = newsroom(newsrooms, dialect)

    lines = exported(db_url, ExportFormat.jsonl).splitlines()
    records = [json.loads(line) for line in lines]

    assert len(records) == sum(room.articles.values())
    assert all(tuple(r) == analytics.EXPORT_COLUMNS for r in records)
    storm = next(r for r in records if r["url"] == room.revised_url)
    assert datetime.fromisoformat(storm["modified_at"]) > datetime.fromisoformat(
        storm["published_at"]
    )
    assert storm["published_at"].endswith("+00:00") and "T" in storm["published_at"]
    live = next(r for r in records if "live-election" in r["url"])
    assert (live["published_at"], live["authors"]) == (None, None)
    assert isinstance(storm["word_count"], int) and "Update:" in storm["text"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_export_rows_filters_by_source_and_day(newsrooms: Filled, dialect: str) -> None:
    db_url, room = newsroom(newsrooms, dialect)
    url = analytics.EXPORT_COLUMNS.index("url")

    def urls(**filters: object) -> list[str]:
        return [r[url] for r in analytics.export_rows(db_url, **filters)]  # type: ignore[arg-type]

    assert urls(source="dw-top") == room.urls["dw-top"]
    assert urls(source="no-such-source") == []
    three_days = room.now - timedelta(days=3, hours=1)
    recent = urls(since=three_days)
    undated = room.urls["guardian-world"][2]  # no published date: its fetch time counts
    assert set(recent) == {
        room.urls["bbc-world"][2],
        room.urls["bbc-world"][3],
        room.urls["guardian-world"][1],
        room.urls["dw-top"][1],
        undated,
    }
    assert set(urls(until=three_days)) == {u for v in room.urls.values() for u in v} - set(recent)
    assert urls(source="bbc-world", since=three_days, until=room.now - timedelta(days=2)) == [
        room.urls["bbc-world"][2]
    ]


def test_export_on_sqlite_does_not_hold_the_write_lock(sqlite_url: str) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    fill(sqlite_url)
    rows = analytics.export_rows(sqlite_url, batch=2)
    next(rows)  # the export's read transaction is open

    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0.5) as writer:
        writer.execute("BEGIN IMMEDIATE")  # an ingest's write transaction
        writer.execute("UPDATE sources SET name = name")
    rows.close()


BULK = """
INSERT INTO articles (source_id, url, canonical_url, content_hash, title, text, language,
                      word_count, published_at, fetched_at, created_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
SELECT :source_id, 'https://bulk.example/' || i, 'https://bulk.example/' || i, 'hash-' || i,
       'Bulk story ' || i, :text || ' ' || i, 'en', 2, :now, :now, :now
FROM n
"""


def bulk_articles(db_url: str, count: int, chars: int = 1500) -> int:
    """``count`` distinct articles of about ``chars`` characters in one source, generated by the
    database itself; returns the size of their text. Two words each: filling the full-text index
    (triggers, generated column) costs little."""
    text = "n" * chars
    statement = sql_text(BULK).bindparams(
        bindparam("now", type_=UTCDateTime()), bindparam("count", type_=Integer())
    )
    with transaction(db_url) as session:
        source_id = sql.ensure_source(session, "bulk")
        session.execute(
            statement,
            {"count": count, "source_id": source_id, "text": text, "now": datetime.now(UTC)},
        )
    return count * chars


class CountingSink(io.TextIOBase):
    """A text stream that keeps nothing: counts characters and samples the process's RSS."""

    def __init__(self) -> None:
        self.chars = 0
        self.writes = 0
        self.rss_peak = rss()

    def write(self, text: str) -> int:
        self.chars += len(text)
        self.writes += 1
        if self.writes % 500 == 0:
            self.rss_peak = max(self.rss_peak, rss())
        return len(text)


def rss() -> int:
    """Resident set size in bytes (Linux), 0 where unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def test_export_of_many_rows_keeps_memory_flat(migrated_db: str) -> None:
    size = bulk_articles(migrated_db, 20_000)
    sink = CountingSink()
    rss_before = rss()

    tracemalloc.start()
    try:
        count = write_export(analytics.export_rows(migrated_db), ExportFormat.jsonl, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 20_000 and sink.chars > size
    assert peak < size / 8, f"Python peak {peak / 1e6:.1f} MB for {size / 1e6:.1f} MB of text"
    # The driver's own buffers (libpq, SQLite) are not Python allocations: RSS catches those.
    assert sink.rss_peak - rss_before < size / 3, f"RSS grew {sink.rss_peak - rss_before} bytes"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_source_stats_counts_per_source(newsrooms: Filled, dialect: str) -> None:
    db_url, room = newsroom(newsrooms, dialect)

    with snapshot(db_url) as session:
        stats = {s.source: s for s in analytics.source_stats(session)}

    assert sorted(stats) == sorted(room.articles)
    for name, s in stats.items():
        got = (s.articles, s.duplicates, s.failures_7d, s.runs, s.last_status)
        want = (
            room.articles[name],
            room.duplicates[name],
            room.failures[name],
            room.runs[name],
            room.last_status[name],
        )
        assert got == want, name
        assert s.last_run_at is not None and s.last_run_at.tzinfo is not None
    with snapshot(db_url) as session:
        later = analytics.source_stats(session, now=room.now + timedelta(days=8))
    assert [s.failures_7d for s in later] == [0, 0, 0]  # out of the 7-day window


def age(db_url: str, source: str, runs: slice, days: int) -> list[int]:
    """Move the source's runs (``runs`` of them, in order) and their fetches ``days`` back."""
    with transaction(db_url) as session:
        ids = session.scalars(
            select(IngestRun.id)
            .join(Source, Source.id == IngestRun.source_id)
            .where(Source.name == source)
            .order_by(IngestRun.id)
        ).all()[runs]
        then = datetime.now(UTC) - timedelta(days=days)
        session.execute(
            update(IngestRun).where(IngestRun.id.in_(ids)).values(started_at=then, finished_at=then)
        )
        session.execute(update(Fetch).where(Fetch.ingest_run_id.in_(ids)).values(fetched_at=then))
    return list(ids)


def counts(db_url: str) -> dict[str, int]:
    models = {"articles": Article, "authors": ArticleAuthor, "urls": ArticleURL}
    models |= {"revisions": ArticleRevision, "fetches": Fetch, "runs": IngestRun}
    with transaction(db_url) as session:
        return {
            k: session.scalar(select(func.count()).select_from(m)) or 0 for k, m in models.items()
        }


def test_prune_deletes_old_fetches_and_unreferenced_finished_runs(migrated_db: str) -> None:
    fill(migrated_db)
    old = age(migrated_db, "dw-top", slice(0, 5), days=40)  # 2 runs stored articles, 3 did not
    age(migrated_db, "bbc-world", slice(2, 3), days=10)  # recent enough for a 30-day cutoff
    with transaction(migrated_db) as session:
        stuck = runs.start_run(session, "dw-top", None)  # never finished
    with transaction(migrated_db) as session:
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == stuck)
            .values(started_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
        old_fetches = session.scalar(
            select(func.count()).select_from(Fetch).where(Fetch.ingest_run_id.in_(old))
        )
    before = counts(migrated_db)
    cutoff = datetime.now(UTC) - timedelta(days=30)

    planned = analytics.prune(migrated_db, cutoff, cutoff, dry_run=True)
    assert counts(migrated_db) == before
    done = analytics.prune(migrated_db, cutoff, cutoff, chunk=2)  # chunks: several transactions

    assert planned == done == analytics.PruneCounts(fetches=old_fetches or 0, runs=3)
    after = counts(migrated_db)
    assert after["fetches"] == before["fetches"] - done.fetches
    assert after["runs"] == before["runs"] - 3
    assert {k: after[k] for k in ("articles", "authors", "urls", "revisions")} == {
        k: before[k] for k in ("articles", "authors", "urls", "revisions")
    }
    with transaction(migrated_db) as session:
        left = set(session.scalars(select(IngestRun.id)))
        assert set(old[:2]) <= left and stuck in left  # referenced by articles / still running
        assert not set(old[2:]) & left
    assert analytics.prune(migrated_db, cutoff, cutoff) == analytics.PruneCounts(0, 0)


def test_prune_keeps_fetches_of_deleted_runs_when_they_are_younger(migrated_db: str) -> None:
    fill(migrated_db)
    with transaction(migrated_db) as session:
        (last,) = session.scalars(select(IngestRun.id).order_by(IngestRun.id.desc()).limit(1))
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == last)
            .values(finished_at=datetime.now(UTC) - timedelta(days=100))
        )
    week = datetime.now(UTC) - timedelta(days=7)

    result = analytics.prune(
        migrated_db, fetches_before=week - timedelta(days=300), runs_before=week
    )

    assert result == analytics.PruneCounts(fetches=0, runs=1)
    with transaction(migrated_db) as session:
        orphans = session.scalars(select(Fetch).where(Fetch.ingest_run_id.is_(None))).all()
        assert [f.reason for f in orphans] == ["conn_error"]  # the failed run's feed fetch


def run_cli(args: list[str], db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env["NEWSFLOW_DATABASE_URL"] = db_url
    return subprocess.run(
        [str(NEWSFLOW), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_export_writes_a_file_or_stdout(newsrooms: Filled, tmp_path: Path) -> None:
    db_url, room = newsroom(newsrooms, "sqlite")
    target = tmp_path / "dw.jsonl"

    to_file = run_cli(
        ["export", "--format", "jsonl", "--source", "dw-top", "--output", str(target)],
        db_url,
        tmp_path,
    )
    to_stdout = run_cli(["export", "--format", "csv", "--since", "2000-01-01"], db_url, tmp_path)

    assert to_file.returncode == 0, to_file.stderr
    assert "exported 2 article(s)" in to_file.stderr
    urls = [json.loads(line)["url"] for line in target.read_text(encoding="utf-8").splitlines()]
    assert urls == room.urls["dw-top"]
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout.startswith(",".join(analytics.EXPORT_COLUMNS) + "\n")
    exported_rows = list(csv.reader(io.StringIO(to_stdout.stdout, newline="")))
    assert len(exported_rows) == 1 + sum(room.articles.values())


def test_cli_export_refuses_bad_input(newsrooms: Filled, tmp_path: Path) -> None:
    db_url, _ = newsroom(newsrooms, "sqlite")

    bad_date = run_cli(["export", "--format", "csv", "--since", "yesterday"], db_url, tmp_path)
    no_format = run_cli(["export"], db_url, tmp_path)
    no_db = run_cli(["export", "--format", "csv"], f"sqlite:///{tmp_path / 'none.db'}", tmp_path)

    assert bad_date.returncode == 2 and "--since" in bad_date.stderr
    assert no_format.returncode == 2 and "--format" in no_format.stderr
    assert no_db.returncode == 2 and "no database at" in no_db.stderr
    assert not (tmp_path / "none.db").exists()


def test_cli_stats_prints_every_source_and_totals(newsrooms: Filled, tmp_path: Path) -> None:
    db_url, room = newsroom(newsrooms, "sqlite")

    result = run_cli(["stats"], db_url, tmp_path)

    assert result.returncode == 0, result.stderr
    for name in room.articles:
        assert name in result.stdout
    total = next(line for line in result.stdout.splitlines() if "total" in line)
    articles, failures = sum(room.articles.values()), sum(room.failures.values())
    assert total.split()[:5] == ["total", str(articles), "1", str(failures), "15"]


def test_cli_prune_reports_counts_and_needs_a_current_schema(
    sqlite_url: str, tmp_path: Path
) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url, "0004")
    outdated = run_cli(["prune", "--fetches-older-than", "30"], sqlite_url, tmp_path)
    upgrade(sqlite_url)
    fill(sqlite_url)
    age(sqlite_url, "dw-top", slice(2, 5), days=40)

    dry = run_cli(
        ["prune", "--fetches-older-than", "30", "--runs-older-than", "30", "--dry-run"],
        sqlite_url,
        tmp_path,
    )
    real = run_cli(
        ["prune", "--fetches-older-than", "30", "--runs-older-than", "30"], sqlite_url, tmp_path
    )
    missing = run_cli(["prune"], sqlite_url, tmp_path)

    assert outdated.returncode == 2 and "newsflow db upgrade" in outdated.stderr
    assert dry.returncode == 0, dry.stderr
    assert "fetches: would delete 3 row(s)" in dry.stdout
    assert "ingest_runs: would delete 3 row(s)" in dry.stdout
    assert real.returncode == 0, real.stderr
    assert "fetches: deleted 3 row(s)" in real.stdout and "ingest_runs: deleted 3" in real.stdout
    assert missing.returncode == 2 and "--fetches-older-than" in missing.stderr
