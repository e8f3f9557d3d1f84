"""Full-text search on SQLite (FTS5) and on the real PostgreSQL (tsvector + GIN): ranking,
languages, filters, snippets, hostile queries, index kept in sync, migration, the CLI."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, select, text

from storage import articles, revisions, runs
from storage.engine import get_engine, transaction
from storage.migrate import MIGRATIONS, upgrade
from storage.models import Article
from storage.search import (
    LANGUAGE_CONFIGS,
    MARK_END,
    MARK_START,
    SearchUnavailable,
    fts5_query,
    language_code,
    search,
)
from tasks.extract.extract import content_hash
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult, Recheck

NEWSFLOW = Path(sys.executable).with_name("newsflow")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
FILLER = "The weather stayed mild and the markets were quiet for most of the week. "
HOSTILE = [
    'he said "x" OR (',
    '"',
    '""',
    "(",
    ")",
    "*",
    "^title",
    "title:ferry",
    "NEAR(ferry harbour)",
    "ferry AND",
    "OR",
    "or or",
    "-",
    "--ferry",
    "-ferry",
    "ferry or -harbour",
    "ferry:*",
    "!ferry & | <->",
    "'; DROP TABLE articles; --",
    "\\",
    "ferry\x00harbour",
    "ferry " * 2000,
    "ferry or " * 500,
    "x" * 5000,
    "💥 مرحبا 日本語",
]


def art(url: str, body: str, title: str | None = None, **fields: Any) -> ExtractedArticle:
    values: dict[str, Any] = {
        "published_at": datetime(2026, 11, 1, 12, tzinfo=UTC),
        "language": "en",
        **fields,
    }
    return ExtractedArticle(
        url=url,
        canonical_url=url,
        text=body,
        content_hash=content_hash(body),
        title=title,
        word_count=len(body.split()),
        **values,
    )


def page(article: ExtractedArticle) -> PageResult:
    fetch = FetchOutcome(url=article.url, kind="page", reason="ok", started_at=datetime.now(UTC))
    return PageResult(fetch=fetch, item=FeedItem(article.url, article.url), article=article)


def store(db_url: str, source: str, *stored: ExtractedArticle) -> None:
    with transaction(db_url) as session:
        run_id = runs.start_run(session, source, None)
    with transaction(db_url) as session:
        articles.store_pages(session, run_id, [page(a) for a in stored])


def filler(db_url: str, n: int = 6) -> None:
    """Articles without the searched words (bm25 needs them to give a matched word weight)."""
    store(
        db_url, "other", *(art(f"https://o.example/{i}", f"{FILLER} Item {i}.") for i in range(n))
    )


def ids(db_url: str, query: str, **filters: Any) -> list[int]:
    return [hit.article_id for hit in search(db_url, query, **filters)]


def article_id(db_url: str, url: str) -> int:
    with transaction(db_url) as session:
        return session.execute(select(Article.id).where(Article.url == url)).scalar_one()


@pytest.fixture
def news(migrated_db: str) -> str:
    """Two sources, three languages, two dates."""
    filler(migrated_db)
    store(
        migrated_db,
        "harbour-news",
        art("https://h.example/1", f"{FILLER} The ferry left at noon.", "Harbour timetable"),
        art(
            "https://h.example/2",
            f"{FILLER} A new ferry line opens.",
            "Ferry line",
            published_at=datetime(2026, 10, 1, tzinfo=UTC),
        ),
    )
    store(
        migrated_db,
        "city-news",
        art("https://c.example/1", f"{FILLER} The ferry was late again.", "City council"),
        art(
            "https://c.example/2",
            "Die Fähre fuhr am Mittag ab. Die Wahlen in Bayern verliefen ruhig, ferry.",
            "Fähre und Wahlen",
            language="de",
        ),
    )
    return migrated_db


def test_search_ranks_a_title_match_above_body_only_matches(migrated_db: str) -> None:
    filler(migrated_db)
    store(
        migrated_db,
        "news",
        art("https://n.example/body", f"{FILLER} The ferry left at noon.", "Harbour timetable"),
        art("https://n.example/title", f"{FILLER} Boats left at noon.", "Ferry timetable"),
    )
    hits = search(migrated_db, "ferry")
    assert [h.title for h in hits] == ["Ferry timetable", "Harbour timetable"]
    assert hits[0].rank > hits[1].rank > 0


def test_search_hit_carries_the_article_and_a_marked_snippet(news: str) -> None:
    (hit,) = search(news, "noon ferry")
    assert (hit.source, hit.title, hit.url) == ("harbour-news", "Harbour timetable", hit.url)
    assert hit.article_id == article_id(news, "https://h.example/1")
    assert hit.published_at == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert f"{MARK_START}ferry{MARK_END}" in hit.snippet
    assert f"{MARK_START}noon{MARK_END}" in hit.snippet


def test_search_without_a_match_returns_nothing(news: str) -> None:
    assert search(news, "zeppelin") == []


def test_search_filters_by_source(news: str) -> None:
    hits = search(news, "ferry", source="city-news")
    assert {h.source for h in hits} == {"city-news"} and len(hits) == 2
    assert search(news, "ferry", source="no-such-source") == []


def test_search_filters_by_since(news: str) -> None:
    hits = search(news, "ferry", since=date(2026, 10, 15))
    assert "https://h.example/2" not in {h.url for h in hits} and len(hits) == 3
    assert len(search(news, "ferry", since=date(2026, 10, 1))) == 4


def test_search_filters_by_language(news: str) -> None:
    assert [h.url for h in search(news, "ferry", lang="de")] == ["https://c.example/2"]
    assert len(search(news, "ferry", lang="EN-us")) == 3


def test_search_returns_at_most_limit_hits_best_first(news: str) -> None:
    everything = search(news, "ferry")
    assert len(everything) == 4
    assert search(news, "ferry", limit=2) == everything[:2]
    assert [h.rank for h in everything] == sorted((h.rank for h in everything), reverse=True)


def test_search_never_raises_on_hostile_queries(news: str) -> None:
    for query in HOSTILE:
        assert len(search(news, query)) <= 4, query


def test_search_follows_updates_and_deletes(news: str) -> None:
    url = "https://h.example/1"
    body = f"{FILLER} The hovercraft left at noon."
    fetch = FetchOutcome(url=url, kind="page", reason="ok", started_at=datetime.now(UTC))
    revised = PageResult(fetch, FeedItem(url, url), art(url, body, "Hovercraft timetable"))
    with transaction(news) as session:
        run_id = runs.start_run(session, "harbour-news", None)
    recheck = Recheck(article_id(news, url), url)

    with transaction(news) as session:
        assert revisions.apply_rechecks(session, run_id, [(recheck, revised)]).revised == 1
    assert url not in {h.url for h in search(news, "ferry")}
    assert [h.url for h in search(news, "hovercraft")] == [url]

    with transaction(news) as session:
        session.execute(delete(Article).where(Article.url == url))
    assert search(news, "hovercraft") == []
    assert len(search(news, "ferry")) == 3


def test_search_finds_articles_stored_before_the_migration(db_url: str) -> None:
    upgrade(db_url, "0004")
    # Rows as revision 0004 knew them (the models have moved on since): plain SQL.
    with get_engine(db_url).begin() as conn:
        conn.execute(
            text("INSERT INTO sources (name, created_at) VALUES ('news', :now)"),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO articles (source_id, url, canonical_url, content_hash, title, text,"
                " word_count, fetched_at, created_at) SELECT id, :u, :u, :h, 'Old news', :t, 60,"
                " :now, :now FROM sources WHERE name = 'news'"
            ),
            {
                "u": "https://n.example/old",
                "h": "0" * 64,
                "t": f"{FILLER} The ferry left.",
                "now": NOW,
            },
        )
    with pytest.raises(SearchUnavailable, match="newsflow db upgrade"):
        search(db_url, "ferry")

    upgrade(db_url)
    filler(db_url)  # stored after: both kinds of rows are in the index
    assert [h.url for h in search(db_url, "ferry")] == ["https://n.example/old"]
    assert len(search(db_url, "weather")) == 7


def test_search_does_not_create_a_missing_sqlite_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(SearchUnavailable, match="no database"):
        search(f"sqlite:///{missing}", "ferry")
    assert not missing.exists()


def test_search_rejects_bad_language_and_limit(news: str) -> None:
    with pytest.raises(ValueError, match="ISO 639"):
        search(news, "ferry", lang="english!")
    with pytest.raises(ValueError, match="limit"):
        search(news, "ferry", limit=0)


def test_search_postgresql_stems_english(pg_url: str) -> None:
    upgrade(pg_url)
    store(pg_url, "news", art("https://n.example/1", "The election was held on Sunday.", "Vote"))
    assert len(search(pg_url, "elections")) == 1
    assert len(search(pg_url, "elected", lang="en")) == 1


def test_search_postgresql_parses_german_text_as_german(pg_url: str) -> None:
    upgrade(pg_url)
    store(pg_url, "news", art("https://n.example/de", "Die Wahlen verliefen ruhig.", language="de"))
    (hit,) = search(pg_url, "Wahl", lang="de")
    assert f"{MARK_START}Wahlen{MARK_END}" in hit.snippet
    assert len(search(pg_url, "Wahl")) == 1  # without --lang, German is among the languages tried
    assert search(pg_url, "Wahl", lang="en") == []


def test_search_postgresql_uses_the_gin_index(pg_url: str) -> None:
    """The search statement's tsquery is a constant, so the planner can use the GIN index (here
    forced by disabling sequential scans: an unindexable condition would still scan)."""
    upgrade(pg_url)
    filler(pg_url)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "@@" in statement:
            statements.append((statement, parameters))

    engine = get_engine(pg_url)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        search(pg_url, "weather")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (statement, parameters) = statements[0]
    with engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
    assert any("ix_articles_search_vector" in line for line in plan), plan


def test_search_sqlite_ignores_diacritics(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    store(sqlite_url, "news", art("https://n.example/z", "Élection à Zürich, calme.", "Zürich"))
    assert len(search(sqlite_url, "zurich election")) == 1
    assert len(search(sqlite_url, "ZÜRICH ÉLECTION")) == 1


def test_fts5_query_quotes_every_word() -> None:
    assert fts5_query('he said "x" OR (') == '("he" "said" "x")'
    assert fts5_query('"new ferry" -late or boats') == '("new ferry" NOT "late") OR ("boats")'
    assert fts5_query("-late") is None
    assert fts5_query("( ) * :") is None


def test_language_code_normalizes_tags() -> None:
    assert [language_code(x) for x in ("en", "EN-us", "pt_BR", " de ")] == ["en", "en", "pt", "de"]


def migration(filename: str) -> Any:
    """A migration module of ``storage/migrations/versions``, for the constants it froze."""
    path = MIGRATIONS / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_language_configs_match_the_migration() -> None:
    assert migration("0005_full_text_search.py").LANGUAGE_CONFIGS == LANGUAGE_CONFIGS


@pytest.fixture
def cli_db(sqlite_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update(NEWSFLOW_DATABASE_URL=sqlite_url, COLUMNS="200")
    yield sqlite_url, env


def newsflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSFLOW), "search", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_cli_search_prints_ranked_results(cli_db: tuple[str, dict[str, str]]) -> None:
    url, env = cli_db
    upgrade(url)
    filler(url)
    store(url, "harbour", art("https://h.example/1", f"{FILLER} The ferry left.", "[b]Ferry[/b]"))

    found = newsflow(["ferry", "--source", "harbour", "--since", "2026-01-01", "--limit", "5"], env)
    assert found.returncode == 0, found.stderr
    assert "[b]Ferry[/b]" in found.stdout  # titles are shown as text, never as markup
    assert "harbour" in found.stdout and "2026-11-01" in found.stdout

    nothing = newsflow(["zeppelin", "--lang", "en"], env)
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert "no results" in nothing.stderr


@pytest.mark.slow
def test_cli_search_writes_jsonl_csv_and_whole_urls(cli_db: tuple[str, dict[str, str]]) -> None:
    url, env = cli_db
    upgrade(url)
    long_url = "https://h.example/news/" + "a-very-long-slug-" * 8 + "1"
    store(url, "harbour", art(long_url, f"{FILLER} The ferry left.", "Ferry news"))

    lines = newsflow(["ferry", "--format", "jsonl", "--until", "2026-11-02"], env)
    rows = newsflow(["ferry", "--format", "csv"], env)
    table = newsflow(["ferry"], dict(env, COLUMNS="80"))  # piped: URLs are not cut
    before = newsflow(["ferry", "--format", "jsonl", "--until", "2026-11-01"], env)

    assert lines.returncode == 0, lines.stderr
    (hit,) = [json.loads(line) for line in lines.stdout.splitlines()]
    assert (hit["url"], hit["title"], hit["source"]) == (long_url, "Ferry news", "harbour")
    assert "[ferry]" in hit["snippet"].lower()
    header, row = list(csv.reader(io.StringIO(rows.stdout)))
    assert header[:2] == ["article_id", "rank"] and long_url in row
    assert long_url in table.stdout
    assert before.stdout == "" and "no results" in before.stderr


@pytest.mark.slow
def test_cli_search_without_index_exits_2(cli_db: tuple[str, dict[str, str]]) -> None:
    url, env = cli_db
    upgrade(url, "0004")
    result = newsflow(["ferry"], env)
    assert result.returncode == 2
    assert "newsflow db upgrade" in result.stderr
    bad = newsflow(["ferry", "--lang", "english!"], env)
    assert bad.returncode == 2 and "ISO 639" in bad.stderr
