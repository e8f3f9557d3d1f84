"""``newsflow search`` as a person or a tool runs it, on SQLite and on the real PostgreSQL:
``--format jsonl|csv|table``, ``--until``, whole URLs when piped, CJK words."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime

import pytest

from tests.test_search import FILLER, art, filler, newsflow, store

LONG_URL = "https://h.example/news/" + "a-very-long-slug-" * 8 + "1"


def env(db_url: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return {**values, "NEWSFLOW_DATABASE_URL": db_url, "COLUMNS": "80"}


@pytest.mark.slow
def test_cli_search_formats_and_until_on_each_database(migrated_db: str) -> None:
    filler(migrated_db)
    store(
        migrated_db,
        "harbour",
        art(LONG_URL, f"{FILLER} The ferry left.", "Ferry news"),
        art(
            "https://h.example/old",
            f"{FILLER} An old ferry.",
            "Old ferry",
            published_at=datetime(2026, 9, 1, tzinfo=UTC),
        ),
    )
    settings = env(migrated_db)

    lines = newsflow(["ferry", "--format", "jsonl", "--until", "2026-11-02"], settings)
    older = newsflow(["ferry", "--format", "jsonl", "--until", "2026-10-01"], settings)
    rows = newsflow(["ferry", "--format", "csv", "--since", "2026-10-01"], settings)
    table = newsflow(["ferry", "--since", "2026-10-01"], settings)  # piped: URLs are not cut

    assert lines.returncode == 0, lines.stderr
    hits = [json.loads(line) for line in lines.stdout.splitlines()]
    assert {h["url"] for h in hits} == {LONG_URL, "https://h.example/old"}
    assert all("[ferry]" in h["snippet"].lower() for h in hits)
    assert [json.loads(line)["title"] for line in older.stdout.splitlines()] == ["Old ferry"]
    header, *body = list(csv.reader(io.StringIO(rows.stdout)))
    assert header[:2] == ["article_id", "rank"] and [r[header.index("url")] for r in body] == [
        LONG_URL
    ]
    assert LONG_URL in table.stdout and "https://h.example/old" not in table.stdout


@pytest.mark.slow
def test_cli_search_finds_cjk_words_on_each_database(migrated_db: str) -> None:
    store(
        migrated_db,
        "asia",
        art("https://a.example/zh", "北京市今天举行新闻发布会。", "发布会", language="zh"),
        art("https://a.example/ja", "東京都は今日記者会見を開いた。", "記者会見", language="ja"),
    )
    settings = env(migrated_db)

    chinese = newsflow(["北京", "--format", "jsonl"], settings)
    japanese = newsflow(["東京", "--lang", "ja"], settings)

    assert chinese.returncode == 0, chinese.stderr
    (hit,) = [json.loads(line) for line in chinese.stdout.splitlines()]
    assert hit["url"] == "https://a.example/zh" and "[北京]市" in hit["snippet"]
    assert japanese.returncode == 0, japanese.stderr
    assert "記者会見" in japanese.stdout and "https://a.example/ja" in japanese.stdout
