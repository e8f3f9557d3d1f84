"""Full-text search on PostgreSQL: ``articles.search_vector`` (a generated tsvector parsed with
the configuration of the article's language: title weight A, text weight B; CJK runs as bigrams,
migration 0015) behind a GIN index; an article matches the query parsed in its own language (or
in ``lang``), ranked by ``ts_rank``, snippets by ``ts_headline``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY, TSVECTOR

from storage import cjk
from storage.models import Article
from storage.search_hits import MARK_END, MARK_START, SearchHit, hit, hits_select
from storage.search_query import pg_websearch, positive_terms

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
CONFIGS = ("simple", *sorted(set(LANGUAGE_CONFIGS.values())))
TEXT_CHARS = 250_000  # PostgreSQL indexes (and headlines) this much of an article's text
HEADLINE_OPTIONS = (
    f'MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter=" … ", '
    f'StartSel="{MARK_START}", StopSel="{MARK_END}"'
)


def _config_name() -> ColumnElement[Any]:
    """The name of the article's text search configuration (the mapping of migration 0005)."""
    whens = " ".join(f"WHEN '{code}' THEN '{cfg}'" for code, cfg in LANGUAGE_CONFIGS.items())
    sql = f"(CASE split_part(lower(articles.language), '-', 1) {whens} ELSE 'simple' END)"
    return literal_column(sql, Text)


def _parse(connection: Connection, query: str, configs: Sequence[str]) -> dict[str, str] | None:
    """The query parsed with each configuration, as tsquery text (computed once, so that the
    search statement holds constants the planner matches against the GIN index); ``None`` when
    it has no word to find (empty, only stop words, or only excluded words: such a query cannot
    use the index)."""
    words = bindparam("words", pg_websearch(query), type_=Text)
    parsed: list[ColumnElement[Any]] = [
        func.websearch_to_tsquery(cast(literal(c), REGCONFIG), words) for c in configs
    ]
    combined = reduce(lambda a, b: a.op("||")(b), parsed)
    texts = [cast(p, Text) for p in parsed]
    indexable, *row = connection.execute(select(func.querytree(combined), *texts)).one()
    if indexable in ("", "T"):
        return None
    return {c: cjk.prefix_single(t) for c, t in zip(configs, row, strict=True)}


def _parts(tsquery: str) -> list[tuple[str, str]]:
    """tsquery text's top-level parts, each with the operator before it (``""`` for the first);
    a phrase or a parenthesized group is one part."""
    parts, depth, quoted, start, operator = [], 0, False, 0, ""
    for i, char in enumerate(tsquery + "|"):
        if char == "'":
            quoted = not quoted  # '' inside a lexeme toggles twice
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char in "&|":
            parts.append((operator, tsquery[start:i].strip()))
            operator, start = char, i + 1
    return [(op, part) for op, part in parts if part]


def disjunction(tsquery: str) -> str:
    """The positive top-level parts of tsquery text, OR'ed (``'ferri' & 'noon' & !'late'`` ->
    ``'ferri' | 'noon'``): a headline then shows each of them even when they are far apart,
    where ``ts_headline`` would look for one stretch holding all."""
    positive = [part for _, part in _parts(tsquery) if not part.startswith("!")]
    return " | ".join(dict.fromkeys(positive)) or tsquery


def without_exclusions(tsquery: str) -> str:
    """tsquery text without its excluded top-level parts (``'ferri' & !'late' | 'boat'`` ->
    ``'ferri' | 'boat'``), to rank with: ``ts_rank`` of a query holding a NOT is about 1e-20
    for every article."""
    kept: list[str] = []
    pending = ""  # the operators of the dropped parts since the last kept one
    for operator, part in _parts(tsquery):
        if part.startswith("!"):
            pending += operator
            continue
        joined = "|" if "|" in pending + operator else "&"
        kept.append(f"{joined} {part}" if kept else part)
        pending = ""
    return " ".join(kept) or tsquery


def _per_article(parsed: dict[str, str]) -> ColumnElement[Any]:
    """Per article, the query as parsed in the article's language."""
    if len(parsed) == 1:
        return cast(literal(next(iter(parsed.values()))), TSQUERY)
    whens = {cfg: cast(literal(t), TSQUERY) for cfg, t in parsed.items() if cfg != "simple"}
    return case(whens, value=_config_name(), else_=cast(literal(parsed["simple"]), TSQUERY))


def _cut(connection: Connection, query: str, hits: list[SearchHit]) -> list[SearchHit]:
    """The hits with snippets cut from their text around the terms (for a CJK term, which
    ``ts_headline`` cannot mark: it reads the text's words, not their bigrams)."""
    ids = [h.article_id for h in hits]
    statement = select(Article.id, func.left(Article.text, TEXT_CHARS)).where(Article.id.in_(ids))
    texts: dict[int, str] = {i: t for i, t in connection.execute(statement)}
    terms = positive_terms(query)

    def cut(text: str) -> str:
        return " ".join(cjk.marked_snippet(text, terms, MARK_START, MARK_END).split())

    return [replace(h, snippet=cut(texts[h.article_id])) for h in hits]


def search_pg(
    connection: Connection, query: str, where: list[Any], code: str | None, limit: int
) -> list[SearchHit]:
    """Without a language, the index is searched for the query as parsed in every configuration
    (their OR: one constant), then each candidate is matched and ranked against the query as
    parsed in its own language (e.g. English "elections" -> 'elect' for English articles,
    'elections' for articles in a language we have no configuration for)."""
    configs = [LANGUAGE_CONFIGS.get(code, "simple")] if code else CONFIGS
    parsed = _parse(connection, query, configs)
    if parsed is None:
        return []
    anywhere = " | ".join(f"( {t} )" for t in dict.fromkeys(parsed.values()) if t)
    vector = literal_column("articles.search_vector", TSVECTOR)
    own = _per_article(parsed)
    matches = [vector.op("@@")(cast(literal(anywhere), TSQUERY))]  # what the GIN index answers
    if len(parsed) > 1:
        matches.append(vector.op("@@")(own))
    rank = func.ts_rank(vector, _per_article({c: without_exclusions(t) for c, t in parsed.items()}))
    top = (
        select(Article.id.label("id"), rank.label("rank"))
        .where(*matches, *where)
        .order_by(rank.desc(), Article.id.desc())
        .limit(limit)
        .subquery()
    )
    config = cast(_config_name(), REGCONFIG)
    marks = _per_article({c: disjunction(t) for c, t in parsed.items()})
    cut = cjk.has_cjk(query)  # ts_headline would mark whole CJK clauses, or nothing
    headline: ColumnElement[Any] = (
        literal("", Text)
        if cut
        else func.ts_headline(config, func.left(Article.text, TEXT_CHARS), marks, HEADLINE_OPTIONS)
    )
    statement = (
        hits_select(headline)
        .add_columns(top.c.rank)
        .join(top, top.c.id == Article.id)
        .order_by(top.c.rank.desc(), Article.id.desc())
    )
    hits = [hit(row, float(row.rank)) for row in connection.execute(statement)]
    return _cut(connection, query, hits) if cut and hits else hits
