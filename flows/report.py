"""What the CLI shows: a progress bar per source while ingesting, a summary table at the end
(the flow's own summary artifact is :mod:`flows.summary`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from flows.summary import COLUMNS, SourceReport


class ProgressBars:
    """A rich progress bar per source, fed by :mod:`flows.progress` events."""

    def __init__(self, console: Console, sources: Sequence[str]) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {
            name: self._progress.add_task(escape(name), total=None) for name in sources
        }
        self._lock = threading.Lock()

    def discovered(self, source: str, total: int) -> None:
        with self._lock:
            self._progress.update(self._tasks[source], total=total, completed=0)

    def advanced(self, source: str, done: int) -> None:
        with self._lock:
            self._progress.advance(self._tasks[source], done)

    def __enter__(self) -> ProgressBars:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()


def summary_table(reports: Sequence[SourceReport]) -> Table:
    table = Table(title="newsflow ingest")
    table.add_column("source")
    table.add_column("status")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    for report in reports:
        style = "green" if report.status == "completed" else "red"
        values = [str(getattr(report.counts, column)) for column in COLUMNS]
        table.add_row(escape(report.source), f"[{style}]{report.status}[/]", *values)
    return table


def error_lines(reports: Sequence[SourceReport], limit: int = 5) -> list[str]:
    """A few readable error lines per source (the full record is in ``fetches``/``ingest_runs``)."""
    lines = []
    for report in reports:
        for error in report.errors[:limit]:
            lines.append(f"{report.source}: {error[:200]}")
        if len(report.errors) > limit:
            lines.append(f"{report.source}: ... {len(report.errors) - limit} more")
    return lines
