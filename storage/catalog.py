"""What ``newsflow browse`` shows of a SQLite newsflow database, as Datasette metadata: the
articles with facets and full-text search, labels for the foreign keys, the README's questions as
canned queries, and the chart of articles per day per source (a ``datasette-dashboards``
dashboard). Plain data and SQL; the web server is ``flows/browse.py``.

Datasette finds an FTS table only when it is named after the table it indexes; ``articles_fts``
indexes ``articles`` by rowid through triggers (migration 0005), so it is named here, on the
table and on the ``v_articles`` view (whose ``article_id`` is that rowid).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from html import escape
from pathlib import Path
from typing import Any

from storage.questions import Block

DATABASE = "newsflow"  # the database's name in Datasette's URLs: /newsflow/v_articles
FTS_TABLE = "articles_fts"
ARTICLE_PATH = "/article/{id}"  # one article's page (flows/browse.py serves it)

ARTICLE_FACETS: list[Any] = ["source", "language", {"date": "published_at"}, "cluster_id"]

# Best matches first, each with a snippet of its text (the matched words between [ and ]);
# escape_fts (Datasette's) quotes every word, as the articles' search box does. The best 100 are
# ranked first, then only they are read for snippets (snippet() tokenizes the whole text).
SEARCH: dict[str, Any] = {
    "title": "Search with snippets",
    "hide_sql": True,  # a search form, not a lesson in SQL ("Show SQL" shows it)
    "description": "Every word must match (case and accents ignored); best matches first.",
    "sql": """WITH top AS (
  SELECT rowid, bm25(articles_fts, 10.0, 1.0) AS score FROM articles_fts
  WHERE :q <> '' AND articles_fts MATCH escape_fts(:q)
  ORDER BY score LIMIT 100
)
SELECT a.id AS article_id, a.title, s.name AS source, a.published_at, a.language,
       snippet(articles_fts, 1, '[', ']', '…', 24) AS snippet
FROM top
JOIN articles_fts ON articles_fts.rowid = top.rowid
JOIN articles a ON a.id = top.rowid
JOIN sources s ON s.id = a.source_id
WHERE :q <> '' AND articles_fts MATCH escape_fts(:q)
ORDER BY top.score""",
}

DAILY_COUNTS = """SELECT day, source, articles FROM v_daily_counts
WHERE day IS NOT NULL ORDER BY day, source"""

# A stacked bar per day (UTC), one colour per source: vega-lite, drawn by datasette-dashboards.
DAILY_CHART = {
    "mark": {"type": "bar", "tooltip": True},
    "encoding": {
        "x": {"field": "day", "type": "ordinal", "title": "day (UTC)"},
        "y": {"field": "articles", "type": "quantitative", "title": "articles"},
        "color": {"field": "source", "type": "nominal", "title": "source"},
    },
}

# Tables an analyst has no use for in a browser (index rows, compressed bodies, bookkeeping).
HIDDEN = (
    "minhash_bands",
    "raw_pages",
    "alembic_version",
    "recent_page_lines",
    "robots_files",
    "host_slots",
)

# What a PostgreSQL snapshot for browsing leaves empty: hidden, and the bulk of a database.
NOT_COPIED = frozenset({"raw_pages", "minhash_bands"})

LABELS = {"sources": "name", "authors": "name", "tags": "name", "articles": "title"}

DESCRIPTION = (
    "Every stored article, searchable (the search box uses the articles_fts index) and faceted "
    "by source, language, day and story cluster; a title opens the article's page. The views "
    "are the stable interface (docs/schema.md); the queries below are the README's questions."
)


# The home page: where an analyst starts.
HOME = (
    (f"/{DATABASE}/v_articles", "Articles: search, facets by source, language, day and story"),
    (f"/{DATABASE}/search", "Search with snippets, best matches first"),
    ("/-/dashboards/news", "Articles per day per source (chart)"),
    (
        f"/{DATABASE}/v_story_clusters?_sort_desc=sources",
        "Stories, with every source that carried them",
    ),
    (f"/{DATABASE}/v_source_health", "Source health"),
)


def _home(questions: list[Block]) -> str:
    links = [*HOME, (f"/{DATABASE}#queries", "The README's questions")] if questions else HOME
    items = "".join(f'<li><a href="{href}">{escape(label)}</a></li>' for href, label in links)
    return f"<p>{escape(DESCRIPTION)}</p><ul>{items}</ul>"


def _tables() -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {
        "v_articles": {
            "description": "One row per stored article; a title opens the article's page.",
            "facets": ARTICLE_FACETS,
            "fts_table": FTS_TABLE,
            "fts_pk": "article_id",
            "sort_desc": "published_at",
            "label_column": "title",
        },
        "articles": {"fts_table": FTS_TABLE, "fts_pk": "id", "sort_desc": "published_at"},
    }
    for name, column in LABELS.items():
        tables.setdefault(name, {})["label_column"] = column
    for name in HIDDEN:
        tables[name] = {"hidden": True}
    return tables


def _canned(questions: list[Block]) -> dict[str, dict[str, Any]]:
    return {"search": SEARCH} | {
        block.ident: {"title": block.lead, "description": block.prose, "sql": block.sql}
        for block in questions
    }


def _dashboard() -> dict[str, Any]:
    return {
        "news": {
            "title": "Articles per day",
            "description": "Stored articles per day (UTC, by publication date) and source.",
            "layout": [["per-day"]],
            "charts": {
                "per-day": {
                    "title": "Articles per day per source",
                    "db": DATABASE,
                    "query": DAILY_COUNTS,
                    "library": "vega-lite",
                    "display": DAILY_CHART,
                }
            },
        }
    }


def metadata(questions: list[Block]) -> dict[str, Any]:
    """Datasette's metadata for the database: ``questions`` become its canned queries."""
    return {
        "title": "newsflow",
        "description_html": _home(questions),
        "databases": {
            DATABASE: {
                "description": DESCRIPTION,
                "tables": _tables(),
                "queries": _canned(questions),
            }
        },
        "plugins": {"datasette-dashboards": _dashboard()},
    }


def sqlite_revision(path: Path) -> str | None:
    """The schema revision of the SQLite file at ``path``, read through a read-only connection
    (nothing is written: no journal mode set, no file created); None without Alembic's table."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else str(row[0])
