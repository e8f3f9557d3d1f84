"""Story views count every source that carried a story: an exact copy under another source's URL is
stored only as URL aliases of the original, yet its source is in ``story_copies``,
``story_clusters`` and ``v_story_clusters.sources`` (migration 0013), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import text, update

from storage import feeds, runs
from storage.engine import get_engine, transaction
from storage.migrate import alembic_config, upgrade
from storage.models import ArticleURL
from tasks.records import FeedItem
from tests.analytics_data import Newsroom, _story, _Writer

ORIGINAL = _story("wire-east", "dam-opens", 21, 2)
COPY = _story("daily-west", "dam-opens-wire", 21, 2, title="Dam opens (wire)")


def rows(db_url: str, sql: str) -> list[Any]:
    with get_engine(db_url).connect() as connection:
        return list(connection.execute(text(sql)).all())


def carried(db_url: str) -> None:
    writer = _Writer(db_url, Newsroom(now=datetime.now(UTC)))
    writer.run("wire-east", [ORIGINAL])
    writer.run("daily-west", [COPY])  # the same text: stored only as aliases of the original


def test_story_views_count_an_exact_copy_of_another_source(migrated_db: str) -> None:
    carried(migrated_db)

    (story,) = rows(
        migrated_db,
        "SELECT first_source, articles, sources, exact_copies FROM v_story_clusters",
    )
    members = rows(
        migrated_db,
        "SELECT source, canonical_url, is_copy, dedup_method, similarity FROM story_clusters"
        " ORDER BY source",
    )

    assert tuple(story) == ("wire-east", 1, 2, 1)
    assert [tuple(m) for m in members] == [
        ("daily-west", COPY.url, 1, "exact", 1.0),
        ("wire-east", ORIGINAL.url, 0, None, None),
    ]


def test_story_copies_read_a_feed_item_linked_to_another_sources_article(
    migrated_db: str,
) -> None:
    """An aggregator whose feed links to the original's own URL carried the story too."""
    writer = _Writer(migrated_db, Newsroom(now=datetime.now(UTC)))
    writer.run("wire-east", [ORIGINAL])
    item = FeedItem(ORIGINAL.url, ORIGINAL.url, title="Digest: the dam opens")
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "digest", None)
        feeds.record_feed_items(session, run_id, [item])

    copies = rows(migrated_db, "SELECT source, url, title FROM story_copies")
    (story,) = rows(migrated_db, "SELECT sources, exact_copies FROM v_story_clusters")

    assert [tuple(c) for c in copies] == [("digest", ORIGINAL.url, "Digest: the dam opens")]
    assert tuple(story) == (2, 1)


def test_migration_0013_gives_existing_urls_their_source(migrated_db: str) -> None:
    """URLs stored before 0013 have no source: the migration takes it from the page fetches."""
    carried(migrated_db)
    with transaction(migrated_db) as session:
        session.execute(update(ArticleURL).values(source_id=None))
    command.downgrade(alembic_config(migrated_db), "0014")  # 0013 and what follows

    upgrade(migrated_db)

    sources = rows(
        migrated_db,
        "SELECT u.url, s.name FROM article_urls u JOIN sources s ON s.id = u.source_id"
        " ORDER BY u.url",
    )
    assert [tuple(r) for r in sources] == [
        (COPY.url, "daily-west"),
        (ORIGINAL.url, "wire-east"),
    ]
    (story,) = rows(migrated_db, "SELECT sources, exact_copies FROM v_story_clusters")
    assert tuple(story) == (2, 1)
