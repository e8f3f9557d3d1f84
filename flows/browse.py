"""The web UI of ``newsflow browse``: Datasette over one SQLite newsflow database, never written.

What is shown comes from ``storage/catalog.py`` (facets, full-text search, labels, the README's
questions as canned queries, the per-day chart); this module adds the Datasette plugin hooks:
every connection to the database is ``PRAGMA query_only`` (on top of Datasette's ``mode=ro`` or
``immutable=1``, so even a plugin's ``execute_write`` fails), a title links to the article's
page, and the page itself (``/article/ID``: the same SQL as ``newsflow show``).
"""

from __future__ import annotations

import signal
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm
from datasette.utils.asgi import NotFound, Request, Response
from markupsafe import Markup

from storage.browse import ARTICLE, ARTICLE_LISTS
from storage.catalog import ARTICLE_PATH, DATABASE, metadata
from storage.questions import README, questions

TEMPLATES = Path(__file__).resolve().parent / "templates"
PLUGIN = "newsflow-browse"
SETTINGS = {
    "suggest_facets": False,  # each suggestion is a query per column: slow on a large database
    "default_page_size": 50,
    "sql_time_limit_ms": 5000,
    "facet_time_limit_ms": 1000,
    "truncate_cells_html": 300,
}
# The column holding the article a title opens, by table (any other table or query:
# ``article_id``); a story's title (README question 2's ``story``) opens its first article.
ID_COLUMNS = {
    "articles": "id",
    "v_articles": "article_id",
    "story_clusters": "article_id",
    "v_story_clusters": "cluster_id",
}


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Datasette) -> None:
    if database == DATABASE:
        conn.execute("PRAGMA query_only = ON")


def _article_id(row: Any, column: str, table: str | None) -> Any:
    if column == "story":
        key = "cluster_id"
    elif column in {"title", "article_id"}:
        key = ID_COLUMNS.get(table or "", "article_id")
    else:
        return None
    return row[key] if key in (row.keys() if hasattr(row, "keys") else ()) else None


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Datasette
) -> Markup | None:
    """A title, a story and an article id link to the article's page."""
    article = _article_id(row, column, table) if database == DATABASE else None
    if article is None or value is None:
        return None
    href = datasette.urls.path(ARTICLE_PATH.format(id=int(article)))
    return Markup('<a href="{}">{}</a>').format(href, value)


def _paragraphs(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").split("\n") if line.strip()]


async def _rows(db: Database, sql: str, article_id: int) -> list[dict[str, Any]]:
    result = await db.execute(sql, {"id": article_id})
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


async def article_page(request: Request, datasette: Datasette) -> Response:
    article_id = int(request.url_vars["id"])
    db = datasette.get_database(DATABASE)
    found = await _rows(db, ARTICLE, article_id)
    if not found:
        raise NotFound(f"No article {article_id}")
    fields = found[0]
    lists = {name: await _rows(db, sql, article_id) for name, sql in ARTICLE_LISTS.items()}
    context = {
        "article": fields,
        "meta": {
            k: v
            for k, v in fields.items()
            if k not in {"id", "title", "text", "description"} and v is not None
        },
        "paragraphs": _paragraphs(fields["text"]),
        "lists": lists,
        "database": DATABASE,
        "article_path": lambda n: datasette.urls.path(ARTICLE_PATH.format(id=int(n))),
    }
    html = await datasette.render_template("article.html", context, request=request)
    return Response.html(html)


@hookimpl
def register_routes(datasette: Datasette) -> list[tuple[str, Any]]:
    return [(ARTICLE_PATH.replace("{id}", r"(?P<id>\d+)") + "$", article_page)]


def build(path: Path, *, immutable: bool, readme: Path = README) -> Datasette:
    """Datasette over the SQLite file at ``path`` (``immutable``: a snapshot nobody writes, else
    ``mode=ro`` so that rows an ingest adds meanwhile show), with newsflow's metadata, templates
    and hooks. The README's questions are read from ``readme`` (absent: none)."""
    if pm.get_plugin(PLUGIN) is None:
        pm.register(sys.modules[__name__], name=PLUGIN)
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    canned = questions(text, "sqlite", datetime.now(UTC).date()) if text else []
    datasette = Datasette(metadata=metadata(canned), template_dir=str(TEMPLATES), settings=SETTINGS)
    database = Database(datasette, path=str(path), is_mutable=not immutable)
    datasette.add_database(database, name=DATABASE)
    datasette.remove_database("_memory")  # Datasette adds it when started without files
    return datasette


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(datasette: Datasette, host: str, port: int) -> None:
    """Serve ``datasette`` on ``host``:``port`` until SIGINT or SIGTERM, then return (uvicorn
    raises the signal again once it has stopped: here it ends the serving, not the process, so
    the caller's cleanup runs)."""
    import rich
    import uvicorn

    # Datasette prints every failed request (a typo in a query, an unknown page) with its locals
    # on rich's global console; the page says what went wrong. Server errors still go to stderr
    # (Datasette prints their traceback with the traceback module), and newsflow's own consoles
    # are not the global one.
    rich.reconfigure(quiet=True)
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        uvicorn.run(datasette.app(), host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
