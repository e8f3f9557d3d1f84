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

from storage import cjk
from storage.questions import Block
from storage.search_sqlite import TITLE_WEIGHT

DATABASE = "newsflow"  # the database's name in Datasette's URLs: /newsflow/v_articles
FTS_TABLE = "articles_fts"
ARTICLE_PATH = "/article/{id}"  # one article's page (flows/browse.py serves it)

ARTICLE_FACETS: list[Any] = ["source", "language", {"date": "published_at"}, "cluster_id"]

# Best matches first, each with a snippet of its text (the matched words between [ and ]).
# A query without CJK characters asks the word index: escape_fts (Datasette's) quotes every word,
# as the articles' search box does; the best 100 are ranked first, then only they are read for
# snippets (snippet() tokenizes the whole text). A query holding a CJK character (whose words a
# word index does not split, storage/cjk.py) asks for each of its space-separated terms as a
# substring of the title or text, among the CJK rows only: those the trigram index
# ``articles_cjk`` finds for the longest term when it has three characters or more, else the
# rows of the partial index ``ix_articles_cjk`` (its condition written as migration 0015 wrote
# it); ranked as ``newsflow search`` ranks a scan (occurrences per 1,000 characters, the
# title's x TITLE_WEIGHT), the snippet cut around the first match.
_CJK_QUERY = f":q GLOB '{cjk.SQLITE_PATTERN}'"
_WORDS = "coalesce(nullif(escape_fts(:q), ''), '\"\"')"  # blank: the empty phrase, no row
_LEFT = cjk.SNIPPET_CHARS // 4  # as cjk.marked_snippet: a quarter of the snippet before the term
SEARCH_SQL = f"""WITH RECURSIVE top AS (
  SELECT rowid, bm25(articles_fts, 10.0, 1.0) AS score FROM articles_fts
  WHERE :q <> '' AND NOT {_CJK_QUERY} AND articles_fts MATCH {_WORDS}
  ORDER BY score LIMIT 100
),
words AS (
  SELECT top.rowid AS id, top.score AS rank,
         snippet(articles_fts, 1, '[', ']', '…', 24) AS snippet
  FROM top JOIN articles_fts ON articles_fts.rowid = top.rowid
  WHERE :q <> '' AND NOT {_CJK_QUERY} AND articles_fts MATCH {_WORDS}
),
split(term, rest) AS (
  SELECT '', trim(replace(replace(replace(:q, '"', ' '), char(12288), ' '), char(9), ' ')) || ' '
  WHERE {_CJK_QUERY}
  UNION ALL
  SELECT substr(rest, 1, instr(rest, ' ') - 1), ltrim(substr(rest, instr(rest, ' ') + 1))
  FROM split WHERE rest <> ''
),
terms AS (SELECT DISTINCT lower(term) AS term FROM split WHERE term <> ''),
longest AS (SELECT term, length(term) AS n FROM terms ORDER BY n DESC LIMIT 1),
pool AS (
  SELECT rowid AS id FROM articles_cjk
  WHERE (SELECT n FROM longest) >= {cjk.MIN_TRIGRAM}
    AND articles_cjk MATCH '"' || coalesce((SELECT term FROM longest), '') || '"'
  UNION ALL
  SELECT id FROM articles
  WHERE (SELECT n FROM longest) < {cjk.MIN_TRIGRAM} AND {cjk.sqlite_cjk_row()}
),
folded AS (
  SELECT a.id, lower(coalesce(a.title, '')) AS title, lower(a.text) AS text
  FROM pool JOIN articles a ON a.id = pool.id
),
found AS (
  SELECT f.id, sum(({TITLE_WEIGHT} * (length(f.title) - length(replace(f.title, t.term, '')))
                     + length(f.text) - length(replace(f.text, t.term, ''))) * 1.0
                    / length(t.term)) * 1000 / (1000 + length(f.text)) AS score
  FROM folded f JOIN terms t ON instr(f.title || char(10) || f.text, t.term) > 0
  GROUP BY f.id HAVING count(*) = (SELECT count(*) FROM terms)
  ORDER BY score DESC, f.id DESC LIMIT 100
),
firsts AS (
  SELECT found.id, min(instr(lower(a.text), t.term)) AS at, length(t.term) AS n
  FROM found JOIN articles a ON a.id = found.id JOIN terms t ON instr(lower(a.text), t.term) > 0
  GROUP BY found.id
),
cut AS (
  SELECT found.id, -found.score AS rank, a.text, f.at, f.n, max(1, f.at - {_LEFT}) AS start,
         max(max(1, f.at - {_LEFT}) + {cjk.SNIPPET_CHARS}, f.at + f.n) AS stop
  FROM found JOIN articles a ON a.id = found.id LEFT JOIN firsts f ON f.id = found.id
),
hits AS (
  SELECT id, rank, snippet FROM words
  UNION ALL
  SELECT id, rank, CASE WHEN at IS NULL
    THEN substr(text, 1, {cjk.SNIPPET_CHARS})
         || iif(length(text) > {cjk.SNIPPET_CHARS}, '…', '')
    ELSE iif(start > 1, '…', '') || substr(text, start, at - start)
         || '[' || substr(text, at, n) || ']' || substr(text, at + n, stop - at - n)
         || iif(stop <= length(text), '…', '') END
  FROM cut
)
SELECT a.id AS article_id, a.title, s.name AS source, a.published_at, a.language, hits.snippet
FROM hits
JOIN articles a ON a.id = hits.id
JOIN sources s ON s.id = a.source_id
ORDER BY hits.rank"""
SEARCH: dict[str, Any] = {
    "title": "Search with snippets",
    "hide_sql": True,  # a search form, not a lesson in SQL ("Show SQL" shows it)
    "description": "Every word must match (case and accents ignored; Chinese, Japanese and "
    "Korean words anywhere in the text); best matches first.",
    "sql": SEARCH_SQL,
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
