"""``newsflow search``: full-text search in the stored articles, best matches first."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.cli.common import fail
from flows.settings import Settings

if TYPE_CHECKING:
    from storage.search import SearchHit

console = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command()(search)


def _language(value: str | None) -> str | None:
    from storage.search import language_code

    try:
        return None if value is None else language_code(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _marked(snippet: str) -> Text:
    """The snippet with its matched terms highlighted (never read as rich markup)."""
    from storage.search import MARK_END, MARK_START

    out = Text()
    for i, part in enumerate(re.split(f"[{MARK_START}{MARK_END}]", snippet)):
        out.append(part, style="bold yellow" if i % 2 else "")
    return out


def results_table(hits: Sequence[SearchHit]) -> Table:
    table = Table(show_lines=True)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("title", ratio=2)
    table.add_column("snippet", ratio=3)
    for hit in hits:
        title = Text(hit.title or "(no title)")
        title.append(f"\n#{hit.article_id} {hit.url}", style="dim")
        day = hit.published_at.date().isoformat() if hit.published_at else ""
        table.add_row(f"{hit.rank:.3f}", day, Text(hit.source), title, _marked(hit.snippet))
    return table


def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words to find (all of them); "a phrase", OR between alternatives, -word to '
            "exclude.",
            show_default=False,
        ),
    ],
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            formats=["%Y-%m-%d"],
            help="Only articles published (undated: stored) on or after this day (UTC).",
        ),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            callback=_language,
            help="Only articles in this language (ISO 639 code, e.g. en, de); on PostgreSQL the "
            "query is also parsed (stemmed) in it.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Most results.")] = 20,
) -> None:
    """Search the stored articles' titles and text; ranked results with snippets."""
    from storage.search import SearchUnavailable
    from storage.search import search as find

    day = since.date() if since is not None else None
    try:
        hits = find(
            Settings().database_url, query, source=source, since=day, lang=lang, limit=limit
        )
    except SearchUnavailable as exc:
        raise fail(str(exc)) from None
    if not hits:
        err.print("no results", highlight=False)
        return
    console.print(results_table(hits))
