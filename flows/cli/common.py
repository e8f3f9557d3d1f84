"""What the command groups share: the consoles, the one error exit, the ``--sources`` option and
loading, and the one database check."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from flows.settings import redact_url
from tasks.sources import SourceConfig, SourcesError, load_sources, select_sources

console = Console(width=None if sys.stdout.isatty() else 140)  # logs and pipes get whole tables
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

SourcesOption = Annotated[
    Path | None,
    typer.Option("--sources", help="Sources file (default: NEWSFLOW_SOURCES or ./sources.yaml)."),
]


DASH = "-"


def date_option(help_text: str) -> Any:
    """A ``YYYY-MM-DD`` option."""
    return typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help=help_text)


def utc_day(value: datetime | None, days: int = 0) -> datetime | None:
    """A ``YYYY-MM-DD`` option as the UTC midnight ``days`` later."""
    return None if value is None else value.replace(tzinfo=UTC) + timedelta(days=days)


def when(value: datetime | None, form: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp as shown in tables (a dash for none)."""
    return value.strftime(form) if value is not None else DASH


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: MESSAGE`` on stderr and return the exit to raise. The message is escaped:
    names, URLs and paths the user gave print literally, never as rich markup."""
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load(path: Path) -> list[SourceConfig]:
    """Every source of the sources file at ``path``; a bad file exits with status 2."""
    try:
        return load_sources(path)
    except SourcesError as exc:
        raise fail(str(exc)) from None


def selected(path: Path, names: list[str] | None) -> list[SourceConfig]:
    """The named (or all enabled) sources of the file at ``path``; bad file or name: status 2."""
    try:
        return select_sources(load_sources(path), names)
    except SourcesError as exc:
        raise fail(str(exc)) from None


def database_problem(url: str, *, current: bool = True) -> str | None:
    """Why the database at ``url`` cannot serve a command, or None: it does not exist (SQLite;
    nothing is created here), cannot be opened, or (``current``) is not at the code's schema
    revision."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.engine import is_sqlite
    from storage.migrate import current_revision, head_revision

    shown = redact_url(url)
    path = make_url(url).database
    if is_sqlite(url) and (not path or path == ":memory:" or not Path(path).exists()):
        return f"no database at {shown}"
    try:
        revision = current_revision(url)
    except SQLAlchemyError as exc:
        return f"cannot open {shown}: {exc}"
    if current and revision != head_revision():
        return (
            f"{shown} is at schema revision {revision or 'none'}, the code at "
            f"{head_revision()}; run `newsflow db upgrade` first"
        )
    return None


def require_database(url: str) -> str:
    """``url``, once the database is known to exist at the code's schema revision (else exit 2)."""
    problem = database_problem(url)
    if problem is not None:
        raise fail(problem)
    return url


def prepare_database(url: str) -> None:
    """Migrate an empty or outdated SQLite database; an outdated PostgreSQL exits with status 2
    (it is upgraded only by ``newsflow db upgrade``)."""
    from storage.migrate import SchemaOutdated, ensure_schema

    try:
        ensure_schema(url)
    except SchemaOutdated as exc:
        raise fail(str(exc)) from None
