"""README "Query" cannot rot: every ```sql block of that section runs on SQLite and on PostgreSQL
against a database written the way the flow writes it (``tests/analytics_data.py``), and must
return rows, with the columns listed here, none of them empty throughout.

The SQL runs verbatim but for one substitution: the README writes dates as if today were the day
it names ("as if today were YYYY-MM-DD"), and every ``'YYYY-MM-DD'`` literal in a block is moved
by the days between that day and today. A block fenced ```sql runs on both dialects; one fenced
```sql sqlite or ```sql postgresql only on that dialect.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from storage.engine import get_engine
from storage.questions import README, Block, query_section, reference_day, shift_dates, sql_blocks
from tests.analytics_data import DIALECTS, Filled, Newsroom, filled_databases, newsroom

Rows = list[tuple[Any, ...]]

SECTION = query_section(README.read_text(encoding="utf-8"))
BLOCKS = sql_blocks(SECTION)
REFERENCE = reference_day(SECTION)

COLUMNS = {
    "q1": ("day", "source", "articles", "duplicates", "words"),
    "q2": ("cluster_id", "story", "source", "title", "published_at", "is_copy", "similarity"),
    "q3": (
        "article_id",
        "source",
        "current_title",
        "word_count",
        "modified_at",
        "replaced_at",
        "earlier_title",
        "earlier_chars",
    ),
    "q4": ("source", "started_at", "status", "reason", "fetches", "example_url", "error"),
    "q5": ("author", "articles", "sources", "latest"),
    "q6": ("tag", "articles", "sources"),
    "q7": ("source", "last_5_runs", "previous_20_runs"),
    "q8": ("source", "articles", "near_copies", "near_copy_pct", "copies_seen"),
    "q9": ("published_at", "source", "title", "authors", "url"),
    "q10": ("title", "word_count", "published_at", "url"),
}


def _sources(rows: Rows, index: int = 0) -> set[Any]:
    return {row[index] for row in rows}


# What the newsroom of tests/analytics_data.py must show, beyond "some rows".
CHECKS: dict[str, Callable[[Rows, Newsroom], bool]] = {
    "q1": lambda rows, room: sum(r[2] for r in rows) == sum(room.articles.values()),
    # The near-copy of the harbour story, and the exact copy of the ferry story (only an alias).
    "q2": lambda rows, room: (
        {(r[1], r[2]) for r in rows}
        == {
            ("Harbour budget approved", "bbc-world"),
            ("Harbour budget approved", "guardian-world"),
            ("Ferry timetable", "bbc-world"),
            ("Ferry timetable", "guardian-world"),
        }
    ),
    "q3": lambda rows, room: len(rows) == 1 and rows[0][2] == "Storm hits coast",
    "q4": lambda rows, room: (
        {(r[0], r[3]) for r in rows}
        == {("bbc-world", "http_404"), ("bbc-world", "timeout"), ("dw-top", "conn_error")}
    ),
    "q5": lambda rows, room: rows[0][:2] == ("Jane Doe", 4),
    "q7": lambda rows, room: _sources(rows) == {"dw-top"},
    "q8": lambda rows, room: rows[0][:3] == ("guardian-world", 3, 1),
    "q9": lambda rows, room: _sources(rows, 1) == {"dw-top"} and len(rows) == 2,
    "q10": lambda rows, room: rows[0][1] > 900 and len(rows) == room.articles["bbc-world"],
}


databases = pytest.fixture(scope="module", name="databases")(filled_databases)


def run(db_url: str, sql: str) -> tuple[tuple[str, ...], Rows]:
    """The query's column names and rows, through the driver itself (no bind parsing)."""
    with closing(get_engine(db_url).raw_connection()) as raw:
        cursor = raw.cursor()
        cursor.execute(sql)
        names = tuple(d[0] for d in cursor.description or ())
        rows = [tuple(r) for r in cursor.fetchall()]
        raw.rollback()
    return names, rows


CASES = [
    pytest.param(
        block, dialect, id=block.ident if len(block.dialects) == 1 else f"{block.ident}-{dialect}"
    )
    for block in BLOCKS
    for dialect in block.dialects
]


def test_readme_query_section_has_ten_questions() -> None:
    assert {b.ident for b in BLOCKS} >= set(COLUMNS)
    assert not [b.ident for b in BLOCKS if re.search(r"(?<!:):[a-z_]+\b", b.sql)], "binds"


@pytest.mark.parametrize(("block", "dialect"), CASES)
def test_readme_query_returns_rows(databases: Filled, block: Block, dialect: str) -> None:
    db_url, room = newsroom(databases, dialect)
    sql = shift_dates(block.sql, REFERENCE, datetime.now(UTC).date())

    names, rows = run(db_url, sql)

    assert rows, f"{block.ident} returned no rows on {dialect}:\n{sql}"
    if block.ident in COLUMNS:
        assert names == COLUMNS[block.ident]
    empty = [name for i, name in enumerate(names) if all(r[i] is None for r in rows)]
    assert not empty, f"{block.ident}: columns without a value in any row: {empty}"
    if block.ident in CHECKS:
        assert CHECKS[block.ident](rows, room), rows


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.dialects == DIALECTS], ids=lambda b: b.ident
)
def test_readme_query_agrees_across_dialects(databases: Filled, block: Block) -> None:
    today = datetime.now(UTC).date()
    sql = shift_dates(block.sql, REFERENCE, today)
    sqlite_names, sqlite_rows = run(newsroom(databases, "sqlite")[0], sql)
    pg_names, pg_rows = run(newsroom(databases, "postgresql")[0], sql)
    assert sqlite_names == pg_names
    assert len(sqlite_rows) == len(pg_rows)


def test_shift_dates_moves_every_date_literal() -> None:
    sql = "WHERE d >= '2026-11-19' AND d < '2026-11-27'"
    moved = shift_dates(sql, date(2026, 11, 26), date(2026, 11, 26) + timedelta(days=10))
    assert moved == "WHERE d >= '2026-11-29' AND d < '2026-12-07'"
