"""``newsflow show ID`` prints one article with its story (every source that carried it), and
``newsflow snapshot`` copies a database into a read-only SQLite file, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from flows.cli import app
from storage.engine import get_engine
from tests.analytics_data import fill


def ferry_id(db_url: str) -> int:
    with get_engine(db_url).connect() as connection:
        sql = "SELECT id FROM articles WHERE title = 'Ferry timetable'"
        return int(connection.execute(text(sql)).scalar_one())


def test_show_prints_the_article_and_every_source_of_its_story(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = fill(migrated_db)
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)

    result = CliRunner().invoke(app, ["show", str(ferry_id(migrated_db))], terminal_width=200)

    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Ferry timetable\n")
    assert "bbc-world" in out and "Jane Doe" in out and "Politics" in out
    assert room.copy_url in out  # the exact copy's URL, with the source that carried it
    assert "guardian-world" in out and "exact" in out


def test_show_fails_for_an_unknown_article(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)

    result = CliRunner().invoke(app, ["show", "999999"])

    assert result.exit_code == 1
    assert "no article 999999" in result.output


def test_snapshot_copies_the_database_into_a_read_only_sqlite_file(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    room = fill(migrated_db)
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    target = tmp_path / "snapshot.db"

    result = CliRunner().invoke(app, ["snapshot", str(target)])

    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone() == (
            sum(room.articles.values()),
        )
        hits = db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'ferry'")
        assert hits.fetchone()[0] >= 1
        (sources,) = db.execute(
            "SELECT sources FROM v_story_clusters WHERE title = 'Ferry timetable'"
        ).fetchone()
        assert sources == 2
    assert not target.stat().st_mode & 0o222
    again = CliRunner().invoke(app, ["snapshot", str(target)])
    assert again.exit_code == 2
