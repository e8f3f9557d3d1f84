"""``newsflow export``, ``stats`` and ``prune``: reading the database out, and keeping it small.

Registered on the main app by :func:`register` (``flows/cli/__init__.py``); the SQL is in
``storage/analytics.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol, TextIO

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.cli.common import date_option, fail, require_database, utc_day, when
from flows.settings import Settings, redact_url

console = Console()
err = Console(stderr=True)


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(export)
    app.command()(stats)
    app.command()(prune)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def write_export(rows: Iterable[tuple[Any, ...]], fmt: ExportFormat, out: Writable) -> int:
    """Write ``rows`` (``storage.analytics.EXPORT_COLUMNS``) as CSV with a header or as JSON
    Lines; timestamps in ISO 8601 (UTC, with offset). Returns the number of rows written."""
    from storage.analytics import EXPORT_COLUMNS

    count = 0
    if fmt is ExportFormat.csv:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([v.isoformat() if isinstance(v, datetime) else v for v in row])
            count += 1
        return count
    for row in rows:
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        out.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
        count += 1
    return count


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """The file at ``path``, or standard output as UTF-8 whatever the locale."""
    if path is not None:
        with path.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        return
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a replaced stdout (tests): write text as is
        yield sys.stdout
        return
    stream = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        yield stream
        stream.flush()
    finally:
        stream.detach()


def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")],
    source: Annotated[str | None, typer.Option(help="Only this source's articles.")] = None,
    since: Annotated[datetime | None, date_option("From this day on (UTC, inclusive).")] = None,
    until: Annotated[datetime | None, date_option("Up to this day (UTC, inclusive).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Stream articles (v_articles columns plus the text) as CSV or JSON Lines.

    Dates filter on published_at, or fetched_at when a page gave no date."""
    from storage.analytics import export_rows

    url = require_database(Settings().database_url)
    rows = export_rows(url, source, utc_day(since), utc_day(until, days=1))
    try:
        with closing(rows), _output(output) as stream:
            count = write_export(rows, fmt, stream)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as exc:
        raise fail(str(exc), 1) from None
    where = str(output) if output is not None else "stdout"
    err.print(escape(f"exported {count} article(s) to {where}"), highlight=False, soft_wrap=True)


STATUS_STYLE = {"completed": "green", "running": "cyan"}


def stats() -> None:
    """Per source: articles, duplicates, recent failures, runs, the latest run; totals.

    dups: stored near-copies; failed 7d: failed fetches of the last 7 days (robots.txt aside)."""
    from storage.analytics import source_stats
    from storage.engine import snapshot

    url = require_database(Settings().database_url)
    with snapshot(url) as session:
        rows = source_stats(session)
    if not rows:
        console.print("no sources yet: run `newsflow ingest` first", highlight=False)
        return
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), show_footer=len(rows) > 1
    )
    totals = (
        sum(r.articles for r in rows),
        sum(r.duplicates for r in rows),
        sum(r.failures_7d for r in rows),
        sum(r.runs for r in rows),
    )
    table.add_column("source", footer="total", no_wrap=True)
    for name, total in zip(("articles", "dups", "failed 7d", "runs"), totals, strict=True):
        table.add_column(name, footer=str(total), justify="right", no_wrap=True)
    latest = max((r.last_run_at for r in rows if r.last_run_at), default=None)
    table.add_column("last run (UTC)", footer=when(latest), no_wrap=True)
    table.add_column("status", no_wrap=True)
    for r in rows:
        status = r.last_status or "-"
        style = STATUS_STYLE.get(status, "red" if r.last_status else "")
        table.add_row(
            escape(r.source),
            str(r.articles),
            str(r.duplicates),
            str(r.failures_7d),
            str(r.runs),
            when(r.last_run_at),
            f"[{style}]{status}[/]" if style else status,
        )
    console.print(table)
    for line in failure_lines(url):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"database: {escape(redact_url(url))}", highlight=False, soft_wrap=True)


def failure_lines(url: str) -> list[str]:
    """Why sources fail: per source with failures, its failed fetches of the last 7 days by
    reason, and its latest run's error when that run failed."""
    from flows.outcome import reasons_text
    from storage.engine import snapshot
    from storage.health import source_health

    with snapshot(url) as session:
        healths = source_health(session)
    lines = []
    for health in healths:
        why = []
        if health.failures_7d:
            why.append(f"failed 7d: {reasons_text(health.failures_7d)}")
        if health.last_status not in (None, "completed"):
            why.append(f"last run {health.last_status}: {(health.last_error or '-')[:200]}")
        if why:
            lines.append(f"{health.source}: " + "; ".join(why))
    return lines


def prune(
    fetches_older_than: Annotated[
        int, typer.Option(min=0, metavar="DAYS", help="Delete fetches rows older than DAYS.")
    ],
    runs_older_than: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="DAYS",
            help="Also delete finished ingest_runs rows older than DAYS that stored no article.",
        ),
    ] = None,
    raw_html_older_than: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="DAYS",
            help="Delete kept raw HTML (raw_pages) fetched more than DAYS ago "
            "(default: NEWSFLOW_RAW_HTML_RETENTION_DAYS; 0 there keeps it forever).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only count what would be deleted.")] = False,
) -> None:
    """Delete old fetches rows (and old runs that stored nothing), and raw HTML past its
    retention; never articles.

    Runs are deleted only when finished and when no article refers to them."""
    from storage.analytics import prune as prune_rows
    from storage.rawpages import prune_raw_pages

    url = require_database(Settings().database_url)
    now = datetime.now(UTC)
    keep: float | None = raw_html_older_than
    if keep is None and Settings().raw_html_retention_days > 0:
        keep = Settings().raw_html_retention_days
    raw_before = None if keep is None else now - timedelta(days=keep)
    fetches_before = now - timedelta(days=fetches_older_than)
    runs_before = None if runs_older_than is None else now - timedelta(days=runs_older_than)
    counts = prune_rows(url, fetches_before, runs_before, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"fetches: {verb} {counts.fetches} row(s) fetched before {when(fetches_before)} UTC",
        highlight=False,
    )
    if runs_before is not None:
        console.print(
            f"ingest_runs: {verb} {counts.runs} row(s) finished before {when(runs_before)} UTC",
            highlight=False,
        )
    if raw_before is not None:
        raw = prune_raw_pages(url, raw_before, dry_run=dry_run)
        console.print(
            f"raw_pages: {verb} {raw} row(s) fetched before {when(raw_before)} UTC",
            highlight=False,
        )
