"""Full-text search over the articles, in the database itself (migrations 0005 and 0015).

PostgreSQL (``storage/search_pg.py``): ``articles.search_vector``, a generated tsvector in the
article's language behind a GIN index, ranked by ``ts_rank``, snippets by ``ts_headline``.
SQLite (``storage/search_sqlite.py``): the FTS5 word index ``articles_fts`` and the trigram index
``articles_cjk`` for CJK text, kept in sync by triggers, ranked by ``bm25``. CJK words are found
on both (``storage/cjk.py``).

The query is web-search style on both dialects (``storage/search_query.py``): words (all must
match), ``"a phrase"``, ``or`` between alternatives, ``-word`` to exclude. No user input is ever
read as FTS5 or tsquery syntax.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, or_, select, text
from sqlalchemy.engine import make_url

from storage.engine import is_sqlite, reading
from storage.models import Article, Source
from storage.search_hits import MARK_END, MARK_START, SearchHit
from storage.search_pg import LANGUAGE_CONFIGS, search_pg
from storage.search_query import fts5_query
from storage.search_sqlite import search_sqlite

__all__ = [
    "LANGUAGE_CONFIGS",
    "MARK_END",
    "MARK_START",
    "SearchHit",
    "SearchUnavailable",
    "fts5_query",
    "language_code",
    "search",
]

MAX_QUERY_WORDS = 64  # the rest of a longer query is ignored

_LANG = re.compile(r"[a-z]{2,3}")


class SearchUnavailable(Exception):
    """The database has no full-text index yet (migration 0005 not applied)."""


def language_code(lang: str) -> str:
    """``lang`` as the lower-case ISO 639 code of ``articles.language`` (``en-US`` -> ``en``)."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    if not _LANG.fullmatch(code):
        raise ValueError(f"not an ISO 639 language code: {lang!r} (e.g. en, de, fr)")
    return code


def _day(value: date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _filters(
    source: str | None, since: date | None, code: str | None, until: date | None = None
) -> list[Any]:
    where: list[Any] = []
    if until is not None:
        where.append(func.coalesce(Article.published_at, Article.created_at) < _day(until))
    if source is not None:
        where.append(
            Article.source_id == select(Source.id).where(Source.name == source).scalar_subquery()
        )
    if since is not None:
        where.append(func.coalesce(Article.published_at, Article.created_at) >= _day(since))
    if code is not None:
        language = func.lower(Article.language)
        where.append(or_(language == code, language.like(f"{code}-%")))
    return where


def _has_index(connection: Connection) -> bool:
    if connection.dialect.name == "postgresql":
        sql = (
            "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('articles')"
            " AND attname = 'search_vector' AND NOT attisdropped"
        )
    else:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles_fts'"
    return connection.execute(text(sql)).first() is not None


def _require_database(db_url: str) -> None:
    """Refuse a SQLite file that does not exist (connecting would create an empty one)."""
    path = make_url(db_url).database
    if not is_sqlite(db_url) or not path or path == ":memory:" or path.startswith("file:"):
        return
    if not Path(path).exists():
        raise SearchUnavailable(f"no database at {path}; run `newsflow ingest` first")


def search(
    db_url: str,
    query: str,
    *,
    source: str | None = None,
    since: date | None = None,
    lang: str | None = None,
    limit: int = 20,
    until: date | None = None,
) -> list[SearchHit]:
    """The articles matching ``query``, best first: optionally only those of ``source``,
    published (or, without a date, stored) on or after ``since`` (a date is midnight UTC), in
    language ``lang`` (an ISO 639 code; on PostgreSQL the query is then parsed in that language
    only), before ``until`` (exclusive, midnight UTC). Raises :class:`SearchUnavailable` when
    the database has no search index."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # Only the first words: ranking an AND of n terms costs O(n²) per hit. PostgreSQL text
    # cannot hold NUL.
    query = " ".join(query.replace("\x00", " ").split()[:MAX_QUERY_WORDS])
    code = language_code(lang) if lang is not None else None
    where = _filters(source, since, code, until)
    _require_database(db_url)
    with reading(db_url) as connection:
        if not _has_index(connection):
            raise SearchUnavailable(
                "the database has no full-text search index yet; run `newsflow db upgrade`"
            )
        if connection.dialect.name == "postgresql":
            return search_pg(connection, query, where, code, limit)
        return search_sqlite(connection, query, where, limit)
