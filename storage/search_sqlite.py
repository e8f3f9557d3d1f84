"""Full-text search on SQLite: the FTS5 word index ``articles_fts`` (migration 0005, ranked by
``bm25``, snippets by ``snippet()``) and, for articles with CJK text, the FTS5 trigram index
``articles_cjk`` (migration 0015) with ``instr`` for the terms of one or two characters that a
trigram index cannot find. The hits of both are merged, an article's best rank kept."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    column,
    func,
    literal_column,
    not_,
    select,
    table,
    text,
)

from storage import cjk
from storage.models import Article
from storage.search_hits import MARK_END, MARK_START, SearchHit, best_first, hit, hits_select
from storage.search_query import Group, fts5_query, groups, positive_terms

BM25_WEIGHTS = (10.0, 1.0)  # title, text
SNIPPET_TOKENS = 24
TITLE_WEIGHT = 10  # a scanned hit's rank: occurrences per 1,000 characters, the title's x10


def _words(connection: Connection, query: str, where: list[Any], limit: int) -> dict[int, float]:
    """The word index's best ``limit`` rowids and their ranks (-bm25)."""
    expression = fts5_query(query)
    if expression is None:
        return {}
    fts = table("articles_fts", column("rowid", Integer))
    match = literal_column("articles_fts").op("MATCH")(expression)
    score = func.bm25(literal_column("articles_fts"), *BM25_WEIGHTS)
    top = select(fts.c.rowid, score).where(match).order_by(score, fts.c.rowid.desc()).limit(limit)
    if where:
        top = top.join(Article, Article.id == fts.c.rowid).where(*where)
    return {rowid: -bm25 for rowid, bm25 in connection.execute(top)}


def _word_snippets(connection: Connection, query: str, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    # Snippets only for the hits shown (snippet() reads and tokenizes the text), and no bm25 here:
    # restricted by rowid, FTS5 would recompute its statistics for every row.
    fts = table("articles_fts", column("rowid", Integer))
    match = literal_column("articles_fts").op("MATCH")(fts5_query(query))
    snippet = func.snippet(
        literal_column("articles_fts"), 1, MARK_START, MARK_END, "…", SNIPPET_TOKENS
    )
    statement = (
        hits_select(snippet).join(fts, fts.c.rowid == Article.id).where(match, fts.c.rowid.in_(ids))
    )
    return list(connection.execute(statement))


@dataclass(frozen=True, slots=True)
class _CjkGroup:
    """One alternative of the query for the trigram index: ``match`` (its terms of three
    characters or more, FTS5 syntax) or, without one, a scan of the CJK rows; ``present`` and
    ``absent``: the shorter terms, looked for in the text; ``excluded``: long excluded terms of a
    scan (FTS5 syntax)."""

    match: str | None
    present: tuple[str, ...]
    absent: tuple[str, ...]
    excluded: str | None


def _cjk_group(group: Group) -> _CjkGroup:
    def long(term: Any) -> bool:
        return len(term.text) >= cjk.MIN_TRIGRAM

    positive = [t.quoted for t in group if long(t) and not t.negated]
    negative = [t.quoted for t in group if long(t) and t.negated]
    present = tuple(t.text.lower() for t in group if not long(t) and not t.negated)
    absent = tuple(t.text.lower() for t in group if not long(t) and t.negated)
    if positive:
        match = " ".join(positive + [f"NOT {t}" for t in negative])
        return _CjkGroup(match, present, absent, None)
    return _CjkGroup(None, present, absent, " OR ".join(negative) or None)


def _holds(value: str) -> ColumnElement[bool]:
    """The article's title or text holds ``value`` (lower case; SQLite folds ASCII only)."""
    term: ColumnElement[str] = bindparam(None, value)
    in_title = func.instr(func.lower(func.coalesce(Article.title, "")), term) > 0
    return in_title | (func.instr(func.lower(Article.text), term) > 0)


def _count(value: Any, term: str) -> ColumnElement[Any]:
    lowered = func.lower(value)
    return (func.length(lowered) - func.length(func.replace(lowered, term, ""))) / len(term)


def _cjk_select(group: _CjkGroup, where: list[Any], limit: int) -> Select[int, Any]:
    shorter = [_holds(t) for t in group.present] + [not_(_holds(t)) for t in group.absent]
    if group.match is not None:
        index = table("articles_cjk", column("rowid", Integer))
        score = func.bm25(literal_column("articles_cjk"), *BM25_WEIGHTS)
        statement: Select[int, Any] = select(index.c.rowid, -score).where(
            literal_column("articles_cjk").op("MATCH")(group.match)
        )
        if shorter or where:
            statement = statement.join(Article, Article.id == index.c.rowid)
        return statement.where(*shorter, *where).order_by(score, index.c.rowid.desc()).limit(limit)
    title = func.coalesce(Article.title, "")
    counts = [TITLE_WEIGHT * _count(title, t) + _count(Article.text, t) for t in group.present]
    occurrences = reduce(operator.add, counts)
    rank = occurrences * 1000.0 / (1000 + func.length(Article.text))
    scan: Select[int, Any] = select(Article.id, rank).where(
        text(cjk.sqlite_cjk_row("articles.")), *shorter, *where
    )
    if group.excluded is not None:
        index = table("articles_cjk", column("rowid", Integer))
        found = select(index.c.rowid).where(
            literal_column("articles_cjk").op("MATCH")(group.excluded)
        )
        scan = scan.where(Article.id.not_in(found))
    return scan.order_by(rank.desc(), Article.id.desc()).limit(limit)


def _cjk(connection: Connection, query: str, where: list[Any], limit: int) -> dict[int, float]:
    ranks: dict[int, float] = {}
    for group in dict.fromkeys(_cjk_group(g) for g in groups(query)):
        for rowid, rank in connection.execute(_cjk_select(group, where, limit)):
            ranks[rowid] = max(rank, ranks.get(rowid, rank))
    return ranks


def _cut_hits(connection: Connection, query: str, ranks: dict[int, float]) -> list[SearchHit]:
    """Hits with snippets cut from the text around the terms."""
    if not ranks:
        return []
    statement = hits_select(func.coalesce(Article.text, "")).where(Article.id.in_(list(ranks)))
    terms = positive_terms(query)
    return [
        hit(row, ranks[row.id], cjk.marked_snippet(row.snippet, terms, MARK_START, MARK_END))
        for row in connection.execute(statement)
    ]


def search_sqlite(
    connection: Connection, query: str, where: list[Any], limit: int
) -> list[SearchHit]:
    words = _words(connection, query, where, limit)
    ranks = _cjk(connection, query, where, limit) if _has_cjk_index(connection) else {}
    for rowid, rank in words.items():
        ranks[rowid] = max(rank, ranks.get(rowid, rank))
    shown = dict(sorted(ranks.items(), key=lambda r: (-r[1], -r[0]))[:limit])
    # FTS5's snippet() marks words: a CJK term inside a clause it would not mark.
    worded = set() if cjk.has_cjk(query) else set(shown) & set(words)
    hits = [hit(row, shown[row.id]) for row in _word_snippets(connection, query, list(worded))]
    others = {rowid: rank for rowid, rank in shown.items() if rowid not in worded}
    return best_first(hits + _cut_hits(connection, query, others))


def _has_cjk_index(connection: Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles_cjk'"
    return connection.execute(text(sql)).first() is not None
