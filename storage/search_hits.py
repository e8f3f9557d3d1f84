"""What a search hit is and shows, the same for both dialects' indexes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from storage.models import Article, Source

MARK_START, MARK_END = "⟦", "⟧"  # around the matched terms in a snippet


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


def hit(row: Any, rank: float, snippet: str | None = None) -> SearchHit:
    text = " ".join((row.snippet if snippet is None else snippet or "").split())
    return SearchHit(row.id, row.source, row.title, row.published_at, row.url, text, rank)


def hits_select(snippet: ColumnElement[Any]) -> Select[Any]:
    """What a hit shows, for the articles the caller selects."""
    return select(
        Article.id,
        Source.name.label("source"),
        Article.title,
        Article.published_at,
        Article.url,
        snippet.label("snippet"),
    ).join(Source, Source.id == Article.source_id)


def best_first(hits: list[SearchHit]) -> list[SearchHit]:
    return sorted(hits, key=lambda h: (-h.rank, -h.article_id))
