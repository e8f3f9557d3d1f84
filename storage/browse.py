"""What ``newsflow show`` and ``newsflow snapshot`` read: one article with everything known
about it (portable SQL with an ``:id`` parameter), and a read-only SQLite snapshot of any newsflow
database (PostgreSQL included).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, text

from storage.engine import get_engine, reading
from storage.migrate import upgrade
from storage.models import Base

ARTICLE = """SELECT a.id, s.name AS source, a.title, a.description, a.text, a.language,
       a.site_name, a.url, a.canonical_url, a.word_count, a.published_at, a.modified_at,
       a.fetched_at, a.revised_at, a.gone_at, COALESCE(a.duplicate_of, a.id) AS cluster_id,
       a.dedup_method, a.similarity, a.extractor, a.extractor_version
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE a.id = :id"""

# Each list shown on an article's page, by heading.
ARTICLE_LISTS = {
    "authors": """SELECT au.name FROM article_authors aa JOIN authors au ON au.id = aa.author_id
WHERE aa.article_id = :id ORDER BY aa.position""",
    "tags": """SELECT t.name FROM article_tags tg JOIN tags t ON t.id = tg.tag_id
WHERE tg.article_id = :id ORDER BY t.name""",
    "urls": """SELECT u.url, s.name AS source, u.created_at AS seen_at
FROM article_urls u LEFT JOIN sources s ON s.id = u.source_id
WHERE u.article_id = :id ORDER BY u.url""",
    "story": """SELECT sc.article_id, sc.source, sc.title, sc.canonical_url AS url,
       sc.published_at, sc.dedup_method, sc.similarity
FROM story_clusters sc
WHERE sc.cluster_id = (SELECT COALESCE(duplicate_of, id) FROM articles WHERE id = :id)
ORDER BY sc.published_at, sc.article_id, sc.source""",
    "revisions": """SELECT r.replaced_at, r.title, r.fetched_at, r.extractor,
       length(r.text) AS chars, r.text
FROM article_revisions r WHERE r.article_id = :id ORDER BY r.replaced_at""",
}


@dataclass(frozen=True)
class ArticlePage:
    """One article (``fields``: the ``ARTICLE`` row) and its lists (``ARTICLE_LISTS``)."""

    fields: dict[str, Any]
    lists: dict[str, list[dict[str, Any]]]


def article_page(db_url: str, article_id: int) -> ArticlePage | None:
    """Everything stored about article ``article_id``, or ``None`` when there is none."""
    with reading(db_url) as connection:
        return read_article(connection, article_id)


def read_article(connection: Connection, article_id: int) -> ArticlePage | None:
    params = {"id": article_id}
    row = connection.execute(text(ARTICLE), params).mappings().first()
    if row is None:
        return None
    lists = {
        name: [dict(r) for r in connection.execute(text(sql), params).mappings()]
        for name, sql in ARTICLE_LISTS.items()
    }
    return ArticlePage(dict(row), lists)


def _rows(connection: Connection, table: Any, batch: int) -> Iterator[list[dict[str, Any]]]:
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(
        select(table)
    )
    for chunk in result.mappings().partitions(batch):
        yield [dict(r) for r in chunk]


def snapshot(
    db_url: str, path: Path, batch: int = 1000, leave_out: frozenset[str] = frozenset()
) -> int:
    """Copy every table of the database at ``db_url`` (but those named in ``leave_out``, left
    empty) into a new SQLite file at ``path`` (migrated to head first: the same views and
    full-text index), made read-only; the articles copied."""
    if path.exists():
        raise FileExistsError(f"{path} exists; give a new file")
    target = f"sqlite:///{path}"
    upgrade(target)
    copied = 0
    with reading(db_url) as source, get_engine(target).begin() as sink:
        for table in Base.metadata.sorted_tables:
            if table.name in leave_out:
                continue
            for rows in _rows(source, table, batch):
                sink.execute(insert(table), rows)
                copied += len(rows) if table.name == "articles" else 0
    get_engine(target).dispose()
    with closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    path.chmod(0o444)
    return copied
