"""Full-text search over the articles, in the database itself (migration 0005).

PostgreSQL: ``articles.search_vector`` (a generated tsvector parsed with the configuration of the
article's language: title weight A, text weight B) behind a GIN index; an article matches the
query parsed in its own language (or in ``lang``), ranked by ``ts_rank``, snippets by
``ts_headline``. SQLite: the FTS5 table ``articles_fts`` (kept in sync by triggers),
ranked by ``bm25``, snippets by ``snippet()``.

The query is web-search style on both dialects: words (all must match), ``"a phrase"``, ``or``
between alternatives, ``-word`` to exclude. On SQLite every word is passed to FTS5 quoted, so no
user input is ever read as FTS5 syntax.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import reduce
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY, TSVECTOR
from sqlalchemy.engine import make_url

from storage.engine import is_sqlite, reading
from storage.models import Article, Source

# ISO 639-1 code -> PostgreSQL text search configuration; every other language is 'simple'.
# The same mapping is frozen in migration 0005, which builds the tsvector with it.
LANGUAGE_CONFIGS = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ru": "russian",
    "sv": "swedish",
    "da": "danish",
    "fi": "finnish",
    "hu": "hungarian",
    "no": "norwegian",
    "nb": "norwegian",
    "ro": "romanian",
    "tr": "turkish",
}
MARK_START, MARK_END = "⟦", "⟧"  # around the matched terms in a snippet
TEXT_CHARS = 250_000  # PostgreSQL indexes (and headlines) this much of an article's text
HEADLINE_OPTIONS = (
    f'MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter=" … ", '
    f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
)
BM25_WEIGHTS = (10.0, 1.0)  # title, text
SNIPPET_TOKENS = 24
MAX_QUERY_WORDS = 64  # the rest of a longer query is ignored

_LANG = re.compile(r"[a-z]{2,3}")
_CHUNK = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked result. ``rank``: higher is better (PostgreSQL ``ts_rank``, SQLite ``-bm25``;
    not comparable across dialects). ``snippet``: matched terms between ``MARK_START`` and
    ``MARK_END``."""

    article_id: int
    source: str
    title: str | None
    published_at: datetime | None
    url: str
    snippet: str
    rank: float


class SearchUnavailable(Exception):
    """The database has no full-text index yet (migration 0005 not applied)."""


def language_code(lang: str) -> str:
    """``lang`` as the lower-case ISO 639 code of ``articles.language`` (``en-US`` -> ``en``)."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    if not _LANG.fullmatch(code):
        raise ValueError(f"not an ISO 639 language code: {lang!r} (e.g. en, de, fr)")
    return code


def fts5_query(query: str) -> str | None:
    """A web-search style query as an FTS5 expression of quoted terms, or ``None`` when it has no
    words. ``or`` separates alternatives, ``-`` excludes a word or phrase, quotes make phrases."""
    groups: list[list[tuple[bool, str]]] = [[]]
    for match in _CHUNK.finditer(query):
        negated, phrase, bare = bool(match[1]), match[2], match[3]
        if bare is not None and bare.lower() == "or" and not negated:
            groups.append([])
            continue
        words = _WORD.findall(phrase if phrase is not None else bare)
        if words:
            groups[-1].append((negated, '"' + " ".join(words) + '"'))
    parts = []
    for group in groups:
        positive = [term for negated, term in group if not negated]
        if positive:  # FTS5 cannot express "everything except": such a group is dropped
            parts.append(" ".join(positive + [f"NOT {t}" for negated, t in group if negated]))
    return " OR ".join(f"({p})" for p in parts) if parts else None


def _since(value: date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _filters(
    source: str | None, since: date | None, code: str | None, until: date | None = None
) -> list[Any]:
    where: list[Any] = []
    if until is not None:
        where.append(func.coalesce(Article.published_at, Article.created_at) < _since(until))
    if source is not None:
        where.append(
            Article.source_id == select(Source.id).where(Source.name == source).scalar_subquery()
        )
    if since is not None:
        where.append(func.coalesce(Article.published_at, Article.created_at) >= _since(since))
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


def _hit(row: Any, rank: float) -> SearchHit:
    snippet = " ".join((row.snippet or "").split())
    return SearchHit(row.id, row.source, row.title, row.published_at, row.url, snippet, rank)


def _hits(snippet: ColumnElement[Any]) -> Select[Any]:
    """What a hit shows, for the articles the caller selects."""
    return select(
        Article.id,
        Source.name.label("source"),
        Article.title,
        Article.published_at,
        Article.url,
        snippet.label("snippet"),
    ).join(Source, Source.id == Article.source_id)


# PostgreSQL

CONFIGS = ("simple", *sorted(set(LANGUAGE_CONFIGS.values())))


def _pg_config_name() -> ColumnElement[Any]:
    """The name of the article's text search configuration (the mapping of migration 0005)."""
    whens = " ".join(f"WHEN '{code}' THEN '{cfg}'" for code, cfg in LANGUAGE_CONFIGS.items())
    sql = f"(CASE split_part(lower(articles.language), '-', 1) {whens} ELSE 'simple' END)"
    return literal_column(sql, Text)


def _pg_parse(connection: Connection, query: str, configs: Sequence[str]) -> dict[str, str] | None:
    """The query parsed with each configuration, as tsquery text (computed once, so that the
    search statement holds constants the planner matches against the GIN index); ``None`` when
    it has no word to find (empty, only stop words, or only excluded words: such a query cannot
    use the index)."""
    words = bindparam("words", query, type_=Text)
    parsed: list[ColumnElement[Any]] = [
        func.websearch_to_tsquery(cast(literal(c), REGCONFIG), words) for c in configs
    ]
    combined = reduce(lambda a, b: a.op("||")(b), parsed)
    texts = [cast(p, Text) for p in parsed]
    indexable, *row = connection.execute(select(func.querytree(combined), *texts)).one()
    return None if indexable in ("", "T") else dict(zip(configs, row, strict=True))


def _pg_article_query(parsed: dict[str, str]) -> ColumnElement[Any]:
    """Per article, the query as parsed in the article's language."""
    if len(parsed) == 1:
        return cast(literal(next(iter(parsed.values()))), TSQUERY)
    whens = {cfg: cast(literal(t), TSQUERY) for cfg, t in parsed.items() if cfg != "simple"}
    return case(whens, value=_pg_config_name(), else_=cast(literal(parsed["simple"]), TSQUERY))


def _search_pg(
    connection: Connection, query: str, where: list[Any], code: str | None, limit: int
) -> list[SearchHit]:
    """Without a language, the index is searched for the query as parsed in every configuration
    (their OR: one constant), then each candidate is matched and ranked against the query as
    parsed in its own language (e.g. English "elections" -> 'elect' for English articles,
    'elections' for articles in a language we have no configuration for)."""
    configs = [LANGUAGE_CONFIGS.get(code, "simple")] if code else CONFIGS
    parsed = _pg_parse(connection, query, configs)
    if parsed is None:
        return []
    anywhere = " | ".join(f"( {t} )" for t in dict.fromkeys(parsed.values()) if t)
    vector = literal_column("articles.search_vector", TSVECTOR)
    own = _pg_article_query(parsed)
    matches = [vector.op("@@")(cast(literal(anywhere), TSQUERY))]  # what the GIN index answers
    if len(parsed) > 1:
        matches.append(vector.op("@@")(own))
    rank = func.ts_rank(vector, own)
    top = (
        select(Article.id.label("id"), rank.label("rank"))
        .where(*matches, *where)
        .order_by(rank.desc(), Article.id.desc())
        .limit(limit)
        .subquery()
    )
    config = cast(_pg_config_name(), REGCONFIG)
    headline = func.ts_headline(config, func.left(Article.text, TEXT_CHARS), own, HEADLINE_OPTIONS)
    statement = (
        _hits(headline)
        .add_columns(top.c.rank)
        .join(top, top.c.id == Article.id)
        .order_by(top.c.rank.desc(), Article.id.desc())
    )
    return [_hit(row, float(row.rank)) for row in connection.execute(statement)]


# SQLite


def _search_sqlite(
    connection: Connection, query: str, where: list[Any], limit: int
) -> list[SearchHit]:
    expression = fts5_query(query)
    if expression is None:
        return []
    fts = table("articles_fts", column("rowid", Integer))
    match = literal_column("articles_fts").op("MATCH")(expression)
    score = func.bm25(literal_column("articles_fts"), *BM25_WEIGHTS)
    top = select(fts.c.rowid, score).where(match).order_by(score, fts.c.rowid.desc()).limit(limit)
    if where:
        top = top.join(Article, Article.id == fts.c.rowid).where(*where)
    ranks = {rowid: -bm25 for rowid, bm25 in connection.execute(top)}
    if not ranks:
        return []
    # Snippets only for the hits shown (snippet() reads and tokenizes the text), and no bm25 here:
    # restricted by rowid, FTS5 would recompute its statistics for every row.
    snippet = func.snippet(
        literal_column("articles_fts"), 1, MARK_START, MARK_END, "…", SNIPPET_TOKENS
    )
    statement = (
        _hits(snippet)
        .join(fts, fts.c.rowid == Article.id)
        .where(match, fts.c.rowid.in_(list(ranks)))
    )
    hits = [_hit(row, ranks[row.id]) for row in connection.execute(statement)]
    return sorted(hits, key=lambda hit: (-hit.rank, -hit.article_id))


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
            return _search_pg(connection, query, where, code, limit)
        return _search_sqlite(connection, query, where, limit)
