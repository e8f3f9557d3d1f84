"""``newsflow show ID`` (one article with everything known about it) and ``newsflow snapshot``
(a read-only SQLite copy of the database, PostgreSQL included)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.settings import Settings

console = Console()
err = Console(stderr=True)


def _value(value: Any) -> str:
    return "" if value is None else str(value)


def _list_lines(rows: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> str:
    """One line per row, its values in column order (URLs whole, never cut to the width)."""
    return "\n".join(
        "  " + "  ".join(_value(v) for k, v in row.items() if k not in skip and v is not None)
        for row in rows
    )


def show(
    article_id: Annotated[int, typer.Argument(help="The article's id (`search` shows it).")],
) -> None:
    """One article: its metadata, authors, tags, text, URLs (with the source that gave each),
    story (every source that carried it) and earlier revisions."""
    from storage.browse import article_page

    page = article_page(Settings().database_url, article_id)
    if page is None:
        err.print(f"[red]error:[/] no article {article_id}", highlight=False)
        raise typer.Exit(1)
    fields = page.fields
    console.print(f"[bold]{escape(_value(fields['title']) or '(no title)')}[/]", highlight=False)
    meta = Table.grid(padding=(0, 2))
    for name in (*fields.keys() - {"title", "text", "description"},):
        if fields[name] is not None:
            meta.add_row(name, escape(_value(fields[name])))
    for name in ("authors", "tags"):
        meta.add_row(name, escape("; ".join(r["name"] for r in page.lists[name])))
    console.print(meta)
    if fields["description"]:
        console.print(f"\n[italic]{escape(fields['description'])}[/]", highlight=False)
    console.print("\n" + escape(fields["text"]) + "\n", highlight=False, soft_wrap=True)
    for name in ("urls", "story", "revisions"):
        rows = page.lists[name]
        if rows:
            console.print(f"[bold]{name}[/]")
            console.print(escape(_list_lines(rows, skip=("text",))), soft_wrap=True)


def snapshot(
    path: Annotated[Path, typer.Argument(help="The SQLite file to write (must not exist).")],
) -> None:
    """Copy the database (SQLite or PostgreSQL) into a new, read-only SQLite file: the same
    tables, views and full-text index, for tools that read SQLite files (sqlite3, Datasette)."""
    from storage.browse import snapshot as copy

    try:
        articles = copy(Settings().database_url, path)
    except FileExistsError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"{articles} articles copied to {path} (read-only)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command()(snapshot)
