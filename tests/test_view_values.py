"""The analyst views' values read well on both databases (migration 0013): ``v_source_health``'s
shares and rates have at most 3 decimals (PostgreSQL's numeric division gave 20), and every
timestamp a view shows carries its zone (SQLite stores naive UTC text; the views add ``+00:00``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from storage.engine import get_engine
from tests.analytics_data import DIALECTS, Filled, filled_databases, newsroom

newsrooms = pytest.fixture(scope="module", name="newsrooms")(filled_databases)

RATES = ("success_rate_7d", "articles_per_day_7d", "short_body_share", "duplicate_rate")
TIMESTAMPS = {
    "v_articles": ("published_at", "modified_at", "fetched_at"),
    "v_story_clusters": ("first_published_at", "last_published_at"),
    "v_source_health": ("last_run_at",),
    "story_clusters": ("published_at",),
    "story_copies": ("published_at", "seen_at"),
}


def rows(db_url: str, sql: str) -> Iterator[dict[str, Any]]:
    with get_engine(db_url).connect() as connection:
        yield from (dict(r._mapping) for r in connection.execute(text(sql)))


def decimals(value: float | Decimal) -> int:
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_source_health_rates_have_at_most_three_decimals(newsrooms: Filled, dialect: str) -> None:
    db_url, _ = newsroom(newsrooms, dialect)
    health = list(rows(db_url, "SELECT * FROM v_source_health"))

    values = [row[name] for row in health for name in RATES if row[name] is not None]
    assert len(health) == 3 and len(values) >= 9
    assert [v for v in values if decimals(v) > 3] == []
    assert any(decimals(v) == 3 for v in values)  # 1/3 and 2/7 are rounded, not cut to fewer


@pytest.mark.parametrize("dialect", DIALECTS)
def test_view_timestamps_carry_their_zone(newsrooms: Filled, dialect: str) -> None:
    db_url, _ = newsroom(newsrooms, dialect)
    seen = 0
    for view, columns in TIMESTAMPS.items():
        for row in rows(db_url, f"SELECT {', '.join(columns)} FROM {view}"):
            for value in (row[c] for c in columns if row[c] is not None):
                seen += 1
                moment = datetime.fromisoformat(value) if isinstance(value, str) else value
                offset = moment.utcoffset()
                assert offset is not None and offset.total_seconds() == 0, (view, value)
    assert seen > 20
