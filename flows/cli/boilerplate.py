"""``newsflow boilerplate``: the lines each source repeats, learned and stripped from its new
articles."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from flows.cli.analytics import console
from flows.cli.common import require_database, when
from flows.settings import Settings


def register(app: typer.Typer) -> None:
    app.command()(boilerplate)


def boilerplate(
    source: Annotated[str | None, typer.Argument(help="Only this source.")] = None,
) -> None:
    """List each source's learned boilerplate lines: distinct stories seen on, last seen (UTC).

    They are stripped from the source's articles stored after they were learned."""
    from storage.boilerplate import learned_lines
    from storage.engine import snapshot

    with snapshot(require_database(Settings().database_url)) as session:
        rows = learned_lines(session, source)
    if not rows:
        console.print("no boilerplate learned yet", highlight=False)
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("source", no_wrap=True)
    table.add_column("pages", justify="right", no_wrap=True)
    table.add_column("last seen (UTC)", no_wrap=True)
    table.add_column("line")
    for row in rows:
        line = row.line if len(row.line) <= 200 else row.line[:199] + "…"
        table.add_row(Text(row.source), str(row.pages_seen), when(row.last_seen_at), Text(line))
    console.print(table)
