"""``newsflow browse``: the database in a web page (Datasette), read-only.

A SQLite database is served in place, opened read-only (Datasette's ``mode=ro``, every connection
``PRAGMA query_only``), so what an ingest adds meanwhile shows on the next page load. A
PostgreSQL database is first copied into a read-only SQLite snapshot in a temporary folder (the
code path of ``newsflow snapshot``, without the kept page bodies and MinHash bands), served until
the command stops, then deleted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import console, fail
from flows.settings import Settings, redact_url


def database_url(value: str) -> str:
    """``--db``: a database URL as it is, a file path as the SQLite URL of that file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _sqlite_file(url: str) -> Path:
    """The SQLite file at ``url``, once it exists at the code's schema revision (else exit 2),
    checked without writing to it."""
    from sqlalchemy.engine import make_url

    from storage.catalog import sqlite_revision
    from storage.migrate import head_revision

    path = Path(make_url(url).database or "")
    if not path.is_file():
        raise fail(f"no database at {redact_url(url)}")
    revision = sqlite_revision(path)
    if revision != head_revision():
        raise fail(
            f"{path} is at schema revision {revision or 'none'}, the code at "
            f"{head_revision()}; run `newsflow db upgrade` first"
        )
    return path


def _serve(path: Path, *, immutable: bool, host: str, port: int, what: str) -> None:
    from flows.browse import build, serve

    datasette = build(path, immutable=immutable)
    console.print(
        f"Browsing {what} (read-only) at http://{host}:{port}/ ; Ctrl-C stops", highlight=False
    )
    serve(datasette, host, port)


def browse(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL|FILE",
            help="Database URL or SQLite file (default: NEWSFLOW_DATABASE_URL).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """Browse the database in a web page (Datasette, read-only): articles with search and
    facets, one page per article, the README's questions, a chart of articles per day."""
    from storage.engine import dispose_engines, is_sqlite

    url = database_url(db) if db else Settings().database_url
    if is_sqlite(url):
        path = _sqlite_file(url)
        _serve(path, immutable=False, host=host, port=port, what=str(path))
        return
    from flows.cli.common import database_problem
    from storage.browse import snapshot
    from storage.catalog import NOT_COPIED

    problem = database_problem(url)
    if problem is not None:
        raise fail(problem)
    with tempfile.TemporaryDirectory(prefix="newsflow-browse-") as folder:
        path = Path(folder) / "newsflow.db"
        articles = snapshot(url, path, leave_out=NOT_COPIED)
        dispose_engines()
        console.print(f"{articles} articles copied to the snapshot {path}", highlight=False)
        what = f"a snapshot of {redact_url(url)}"
        _serve(path, immutable=True, host=host, port=port, what=what)


def register(app: typer.Typer) -> None:
    app.command()(browse)
