"""analyst views: v_articles, v_story_clusters, v_source_health, v_daily_counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 04:25:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VIEWS = ("v_daily_counts", "v_source_health", "v_story_clusters", "v_articles")


def _sql(dialect: str) -> dict[str, str]:
    """The views' SQL, with the few dialect differences (days, string aggregation, now)."""
    if dialect == "postgresql":
        day = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        agg = "string_agg({expr}, '; ' ORDER BY {order})"
        ago = "now() - interval '{} days'"
    else:
        day = "substr({}, 1, 10)"
        agg = "group_concat({expr}, '; ')"  # SQLite keeps the subquery's order
        ago = "datetime('now', '-{} days')"
    story_date = "COALESCE(a.published_at, a.created_at)"
    return {
        "v_articles": f"""
CREATE VIEW v_articles AS
SELECT a.id AS article_id,
       s.name AS source,
       a.title,
       (SELECT {agg.format(expr="x.name", order="x.position")}
          FROM (SELECT au.name, aa.position FROM article_authors aa
                JOIN authors au ON au.id = aa.author_id
                WHERE aa.article_id = a.id ORDER BY aa.position) x) AS authors,
       a.published_at,
       a.revised_at AS modified_at,
       a.language,
       a.url,
       a.canonical_url,
       a.word_count,
       CASE WHEN a.duplicate_of IS NULL THEN 0 ELSE 1 END AS is_duplicate,
       COALESCE(a.duplicate_of, a.id) AS cluster_id,
       a.site_name,
       a.fetched_at
FROM articles a JOIN sources s ON s.id = a.source_id""",
        "v_story_clusters": f"""
CREATE VIEW v_story_clusters AS
SELECT c.cluster_id,
       r.title,
       rs.name AS first_source,
       MIN({story_date}) AS first_published_at,
       MAX({story_date}) AS last_published_at,
       COUNT(*) AS articles,
       COUNT(DISTINCT a.source_id) AS sources
FROM (SELECT id, COALESCE(duplicate_of, id) AS cluster_id FROM articles) c
JOIN articles a ON a.id = c.id
JOIN articles r ON r.id = c.cluster_id
JOIN sources rs ON rs.id = r.source_id
GROUP BY c.cluster_id, r.title, rs.name""",
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
       (SELECT MAX(r.started_at) FROM ingest_runs r WHERE r.source_id = s.id) AS last_run_at,
       (SELECT r.status FROM ingest_runs r WHERE r.source_id = s.id
         ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_status,
       (SELECT COUNT(*) FROM ingest_runs r
         WHERE r.source_id = s.id AND r.started_at >= {ago.format(7)}) AS runs_7d,
       (SELECT AVG(CASE WHEN r.status = 'completed' THEN 1.0 ELSE 0.0 END) FROM ingest_runs r
         WHERE r.source_id = s.id AND r.started_at >= {ago.format(7)}) AS success_rate_7d,
       (SELECT COUNT(*) / 7.0 FROM articles a
         WHERE a.source_id = s.id AND a.created_at >= {ago.format(7)}) AS articles_per_day_7d,
       (SELECT AVG(CASE WHEN a.word_count < 150 THEN 1.0 ELSE 0.0 END) FROM articles a
         WHERE a.source_id = s.id) AS short_body_share,
       (SELECT AVG(CASE WHEN a.duplicate_of IS NULL THEN 0.0 ELSE 1.0 END) FROM articles a
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


def upgrade() -> None:
    views = _sql(op.get_bind().dialect.name)
    for name in reversed(VIEWS):
        op.execute(views[name])


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
