"""story views count every source that carried a story; article_urls.source_id; zoned, rounded views

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-04 15:10:00

An exact copy (the same text under another source's URL) is stored only as URL aliases of the
original, so the story views counted one source for a story that two carried. ``article_urls``
gains ``source_id`` (the source whose feed or page gave the URL), filled here for the existing rows
from ``feed_items`` and ``fetches`` (the URL's own source where they say nothing and it is the
article's own URL); the new view ``story_copies`` lists, per article, every other source that
carried an exact copy (from ``article_urls`` or ``feed_items``); ``story_clusters`` has a row for
each and ``v_story_clusters`` counts them in ``sources`` (new column: ``exact_copies``).

Also: on SQLite the views' timestamps carry their zone (``+00:00``), and ``v_source_health``'s
shares and rates are rounded to 3 decimals (PostgreSQL showed 20).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None

# Dropped in this order (each before the views it reads), created in the reverse one.
VIEWS = (
    "v_story_clusters",
    "story_clusters",
    "story_copies",
    "v_articles",
    "v_source_health",
    "v_daily_counts",
)
FK = "fk_article_urls_source_id_sources"

BACKFILL = [
    # The feed item (of any source) that led to the article under this URL.
    """UPDATE article_urls SET source_id = (
    SELECT fi.source_id FROM feed_items fi
    WHERE fi.article_id = article_urls.article_id
      AND (fi.url = article_urls.url OR fi.canonical_url = article_urls.url)
    ORDER BY fi.id LIMIT 1)""",
    # The page fetch that got the article under this URL.
    """UPDATE article_urls SET source_id = (
    SELECT f.source_id FROM fetches f
    WHERE f.article_id = article_urls.article_id AND f.kind = 'page'
      AND (f.url = article_urls.url OR f.final_url = article_urls.url)
    ORDER BY f.id LIMIT 1)
WHERE source_id IS NULL""",
    # The article's own URLs belong to its source.
    """UPDATE article_urls SET source_id = (
    SELECT a.source_id FROM articles a
    WHERE a.id = article_urls.article_id
      AND (a.url = article_urls.url OR a.canonical_url = article_urls.url))
WHERE source_id IS NULL""",
]


def _sql(dialect: str) -> dict[str, str]:
    postgresql = dialect == "postgresql"
    day = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if postgresql else "substr({}, 1, 10)"
    agg = (
        "string_agg({expr}, '; ' ORDER BY {order})"
        if postgresql
        else "group_concat({expr}, '; ')"  # SQLite keeps the subquery's order
    )
    ago = "now() - interval '{} days'" if postgresql else "datetime('now', '-{} days')"
    # SQLite keeps naive UTC text: the views say so (PostgreSQL's timestamptz shows its zone).
    ts = "{}" if postgresql else "({} || '+00:00')"
    story_date = "COALESCE(a.published_at, a.created_at)"
    return {
        "story_copies": f"""
CREATE VIEW story_copies AS
SELECT x.article_id,
       x.source_id,
       s.name AS source,
       MIN(x.url) AS url,
       MIN(x.title) AS title,
       {ts.format("MIN(x.published_at)")} AS published_at,
       {ts.format("MIN(x.seen_at)")} AS seen_at
FROM (SELECT article_id, source_id, url, NULL AS title, NULL AS published_at,
             created_at AS seen_at
      FROM article_urls WHERE source_id IS NOT NULL
      UNION ALL
      SELECT article_id, source_id, canonical_url, title, published_at, first_seen_at
      FROM feed_items WHERE article_id IS NOT NULL) x
JOIN articles a ON a.id = x.article_id
JOIN sources s ON s.id = x.source_id
WHERE x.source_id <> a.source_id
GROUP BY x.article_id, x.source_id, s.name""",
        "story_clusters": f"""
CREATE VIEW story_clusters AS
SELECT COALESCE(a.duplicate_of, a.id) AS cluster_id,
       a.id AS article_id,
       s.name AS source,
       a.title,
       a.canonical_url,
       {ts.format("a.published_at")} AS published_at,
       CASE WHEN a.duplicate_of IS NULL THEN 0 ELSE 1 END AS is_copy,
       a.dedup_method,
       a.similarity
FROM articles a JOIN sources s ON s.id = a.source_id
UNION ALL
SELECT COALESCE(a.duplicate_of, a.id), a.id, c.source, COALESCE(c.title, a.title), c.url,
       c.published_at, 1, CAST('exact' AS VARCHAR(16)), 1.0
FROM story_copies c JOIN articles a ON a.id = c.article_id""",
        "v_story_clusters": f"""
CREATE VIEW v_story_clusters AS
SELECT m.cluster_id,
       r.title,
       rs.name AS first_source,
       {ts.format("MIN(m.story_date)")} AS first_published_at,
       {ts.format("MAX(m.story_date)")} AS last_published_at,
       SUM(m.stored) AS articles,
       COUNT(DISTINCT m.source_id) AS sources,
       SUM(1 - m.stored) AS exact_copies
FROM (SELECT COALESCE(a.duplicate_of, a.id) AS cluster_id, a.source_id,
             {story_date} AS story_date, 1 AS stored
      FROM articles a
      UNION ALL
      SELECT COALESCE(a.duplicate_of, a.id), c.source_id, NULL, 0
      FROM story_copies c JOIN articles a ON a.id = c.article_id) m
JOIN articles r ON r.id = m.cluster_id
JOIN sources rs ON rs.id = r.source_id
GROUP BY m.cluster_id, r.title, rs.name""",
        "v_articles": f"""
CREATE VIEW v_articles AS
SELECT a.id AS article_id,
       s.name AS source,
       a.title,
       (SELECT {agg.format(expr="x.name", order="x.position")}
          FROM (SELECT au.name, aa.position FROM article_authors aa
                JOIN authors au ON au.id = aa.author_id
                WHERE aa.article_id = a.id ORDER BY aa.position) x) AS authors,
       {ts.format("a.published_at")} AS published_at,
       {ts.format("a.revised_at")} AS modified_at,
       a.language,
       a.url,
       a.canonical_url,
       a.word_count,
       CASE WHEN a.duplicate_of IS NULL THEN 0 ELSE 1 END AS is_duplicate,
       COALESCE(a.duplicate_of, a.id) AS cluster_id,
       a.site_name,
       {ts.format("a.fetched_at")} AS fetched_at
FROM articles a JOIN sources s ON s.id = a.source_id""",
        "v_daily_counts": f"""
CREATE VIEW v_daily_counts AS
SELECT {day.format(story_date)} AS day,
       s.name AS source,
       COUNT(*) AS articles,
       SUM(CASE WHEN a.duplicate_of IS NULL THEN 0 ELSE 1 END) AS duplicates,
       SUM(a.word_count) AS words
FROM articles a JOIN sources s ON s.id = a.source_id
GROUP BY {day.format(story_date)}, s.name""",
        "v_source_health": f"""
CREATE VIEW v_source_health AS
SELECT s.name AS source,
       (SELECT {ts.format("MAX(r.started_at)")} FROM ingest_runs r
         WHERE r.source_id = s.id) AS last_run_at,
       (SELECT r.status FROM ingest_runs r WHERE r.source_id = s.id
         ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_status,
       (SELECT COUNT(*) FROM ingest_runs r
         WHERE r.source_id = s.id AND r.started_at >= {ago.format(7)}) AS runs_7d,
       (SELECT ROUND(AVG(CASE WHEN r.status = 'completed' THEN 1.0 ELSE 0.0 END), 3)
          FROM ingest_runs r
         WHERE r.source_id = s.id AND r.started_at >= {ago.format(7)}) AS success_rate_7d,
       (SELECT ROUND(COUNT(*) / 7.0, 3) FROM articles a
         WHERE a.source_id = s.id AND a.created_at >= {ago.format(7)}) AS articles_per_day_7d,
       (SELECT ROUND(AVG(CASE WHEN a.word_count < 150 THEN 1.0 ELSE 0.0 END), 3) FROM articles a
         WHERE a.source_id = s.id) AS short_body_share,
       (SELECT ROUND(AVG(CASE WHEN a.duplicate_of IS NULL THEN 0.0 ELSE 1.0 END), 3)
          FROM articles a
         WHERE a.source_id = s.id) AS duplicate_rate,
       (SELECT {agg.format(expr="t.label", order="t.n DESC")}
          FROM (SELECT f.reason || ' (' || COUNT(*) || ')' AS label, COUNT(*) AS n
                FROM fetches f
                WHERE f.source_id = s.id AND f.kind <> 'robots'
                  AND f.reason NOT IN ('ok', 'not_modified')
                  AND f.fetched_at >= {ago.format(7)}
                GROUP BY f.reason ORDER BY COUNT(*) DESC, f.reason LIMIT 3) t) AS top_failures_7d
FROM sources s""",
    }


def _drop_views(names: tuple[str, ...]) -> None:
    for name in names:
        op.execute(f"DROP VIEW IF EXISTS {name}")


def _source_column() -> sa.Column[int]:
    return sa.Column(
        "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_views(VIEWS)
    if dialect == "sqlite":  # no ALTER TABLE ADD CONSTRAINT: rebuild article_urls (no triggers)
        with op.batch_alter_table("article_urls") as batch:
            batch.add_column(_source_column())
            batch.create_foreign_key(FK, "sources", ["source_id"], ["id"], ondelete="SET NULL")
    else:
        op.add_column("article_urls", _source_column())
        op.create_foreign_key(
            FK, "article_urls", "sources", ["source_id"], ["id"], ondelete="SET NULL"
        )
    for statement in BACKFILL:
        op.execute(statement)
    views = _sql(dialect)
    for name in reversed(VIEWS):
        op.execute(views[name])


def _previous(filename: str) -> ModuleType:
    """An earlier migration of this directory, for the view definitions it made."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"_newsflow_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_views(VIEWS)
    if dialect == "sqlite":
        with op.batch_alter_table("article_urls") as batch:
            batch.drop_constraint(FK, type_="foreignkey")
            batch.drop_column("source_id")
    else:
        op.drop_constraint(FK, "article_urls", type_="foreignkey")
        op.drop_column("article_urls", "source_id")
    op.execute(_previous("0003_near_duplicates_revisions_story_clusters.py").STORY_CLUSTERS)
    analyst = _previous("0004_analyst_views.py")
    views = analyst._sql(dialect)
    for name in reversed(analyst.VIEWS):
        op.execute(views[name])
