"""``newsflow reextract``: extract stored articles again from their kept raw HTML."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.cli.common import date_option, require_database, utc_day
from flows.settings import Settings

console = Console(width=None if sys.stdout.isatty() else 140)


def register(app: typer.Typer) -> None:
    app.command()(reextract)


def reextract(
    source: Annotated[str | None, typer.Option(help="Only this source's articles.")] = None,
    since: Annotated[
        datetime | None, date_option("Only pages fetched from this day on (UTC).")
    ] = None,
) -> None:
    """Extract articles again from their latest kept raw page (after an extractor upgrade).

    Updates text, hash, metadata, extractor version, MinHash and bands; a changed text keeps the
    old one in article_revisions. Running it twice changes nothing the second time."""
    from flows.reextract import reextract as run

    url = require_database(Settings().database_url)
    settings = Settings(database_url=url)
    bar = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with bar:
        task = bar.add_task("reextract", total=None)
        counts = run(
            settings,
            source,
            utc_day(since),
            lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"examined {counts.examined}, changed {counts.changed} ({counts.revised} with a new "
        f"text), unchanged {counts.unchanged}, failed {counts.failed}",
        highlight=False,
    )
    for reason, count in sorted(counts.reasons.items()):
        console.print(f"  failed: {reason}: {count}", highlight=False)
