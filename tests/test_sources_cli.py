"""``newsflow sources try|discover|list`` against hand-written sites on loopback servers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from flows.cli import app
from storage.engine import transaction
from storage.models import Article
from storage.runs import finish_run, start_run
from tasks.records import RunCounts
from tasks.sources import load_sources, parse_sources
from tests.loopback import LoopbackServer, Route, rss_feed
from tests.sites import serve_site

RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Loopback allowed, no delays or retries; returns the (not yet existing) database file."""
    db = tmp_path / "news.db"
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_RETRIES", "0")
    return db


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["sources", *args], catch_exceptions=False)


def sources_file(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + entries, encoding="utf-8")
    return path


def example_news(tmp_path: Path, server: LoopbackServer) -> Path:
    base = serve_site(server, "example-news")
    return sources_file(
        tmp_path, f"  - name: example-news\n    feeds: [{base}/feed.xml]\n    interval: 600\n"
    )


def test_sources_try_lists_items_and_extracts_three(
    env: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    path = example_news(tmp_path, server)

    result = invoke("try", "example-news", "--sources", str(path))

    assert result.exit_code == 0, result.output
    assert f"feed {server.url('/feed.xml')}: ok, 3 items" in result.output
    assert "Library extends its opening hours" in result.output
    assert "Maria Lindqvist" in result.output  # an extracted author
    assert "2026-11-02 08:15" in result.output  # an extracted date
    assert "no_date" in result.output and "no_authors" in result.output  # river-cleanup's


def test_sources_try_creates_no_database(env: Path, tmp_path: Path, server: LoopbackServer) -> None:
    path = example_news(tmp_path, server)

    result = invoke("try", "example-news", "--sources", str(path))

    assert result.exit_code == 0, result.output
    assert not env.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.yaml"]


def test_sources_try_leaves_an_existing_database_unchanged(
    env: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    from storage.migrate import upgrade

    upgrade(f"sqlite:///{env}")
    path = example_news(tmp_path, server)

    def counts() -> dict[str, int]:
        with sqlite3.connect(env) as conn:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}

    before = counts()
    result = invoke("try", "example-news", "--sources", str(path))

    assert result.exit_code == 0, result.output
    assert counts() == before


def test_sources_try_url_of_a_missing_feed_exits_1_with_the_reason(
    env: Path, server: LoopbackServer
) -> None:
    result = invoke("try", server.url("/missing.xml"))

    assert result.exit_code == 1
    assert "feed_unreachable" in result.output and "http_404" in result.output
    assert "no feed could be read" in result.stderr


def test_sources_try_exits_1_when_nothing_extracts(env: Path, server: LoopbackServer) -> None:
    server.routes["/empty.html"] = Route(b"<html><body><nav>Home | About</nav></body></html>")
    server.routes["/feed.xml"] = Route(rss_feed("empty", [server.url("/empty.html")]), headers=RSS)

    result = invoke("try", server.url("/feed.xml"))

    assert result.exit_code == 1
    assert "empty_body" in result.output
    assert "nothing could be extracted" in result.stderr


def test_sources_try_rejects_an_unknown_name(env: Path, tmp_path: Path) -> None:
    path = sources_file(
        tmp_path, "  - name: a\n    feeds: [https://a.example/rss]\n    interval: 600\n"
    )

    result = invoke("try", "nope", "--sources", str(path))

    assert result.exit_code == 2
    assert "unknown source(s): nope" in result.stderr


def test_sources_discover_prints_an_entry_parse_sources_accepts(
    env: Path, server: LoopbackServer
) -> None:
    base = serve_site(server, "example-news")

    result = invoke("discover", base + "/", "--name", "example-news")

    assert result.exit_code == 0, result.stderr
    (source,) = parse_sources({"sources": yaml.safe_load(result.stdout)})
    assert source.name == "example-news"
    assert source.feeds == [f"{base}/feed.xml"]
    assert source.interval == 3600
    assert f"# sitemap (3 entries): {base}/sitemap.xml" in result.stdout  # from robots.txt
    assert "/rss" not in server.hits  # the linked feed was enough: no guessing


def test_sources_discover_entry_pastes_into_a_sources_file(
    env: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    base = serve_site(server, "example-news")
    path = sources_file(
        tmp_path, "  - name: other\n    feeds: [https://a.example/rss]\n    interval: 600\n"
    )

    result = invoke("discover", base + "/")
    with path.open("a", encoding="utf-8") as sources:
        sources.write(result.stdout)

    assert [s.name for s in load_sources(path)] == ["other", "127-0-0-1"]


def test_sources_discover_tries_common_paths_and_checks_each(
    env: Path, server: LoopbackServer
) -> None:
    base = serve_site(server, "tagesblick")
    server.routes["/rss"] = Route(b"<html><body><p>Soft 404</p></body></html>")  # not a feed

    result = invoke("discover", base + "/")

    assert result.exit_code == 0, result.stderr
    (source,) = parse_sources({"sources": yaml.safe_load(result.stdout)})
    assert source.feeds == [f"{base}/atom.xml"]
    assert "feed_unparseable" in result.stderr
    assert f"# sitemap (2 entries): {base}/news-sitemap.xml" in result.stdout


def test_sources_discover_guesses_no_path_robots_txt_disallows(
    env: Path, server: LoopbackServer
) -> None:
    base = serve_site(server, "tagesblick")
    server.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /rss\n", headers={})

    result = invoke("discover", base + "/")

    assert result.exit_code == 0, result.stderr
    assert "/atom.xml" in server.hits
    assert "/rss" not in server.hits and "/rss.xml" not in server.hits


def test_sources_discover_exits_1_without_a_feed(env: Path, server: LoopbackServer) -> None:
    server.routes["/"] = Route(b"<html><body><p>Just a page.</p></body></html>")

    result = invoke("discover", server.url("/"))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no usable feed" in result.stderr


def _activity(db_url: str) -> None:
    """Two runs of ``example-news`` (the later one failed) and one stored article."""
    with transaction(db_url) as session:
        first = start_run(session, "example-news", None)
        finish_run(session, first, RunCounts(feed_items=3, fetched=3, new=1), "completed")
        second = start_run(session, "example-news", None)
        finish_run(session, second, RunCounts(feed_items=2, fetched=2, failed=2), "failed")
        session.add(
            Article(
                source_id=1,
                ingest_run_id=first,
                url="https://example.test/a",
                canonical_url="https://example.test/a",
                content_hash="0" * 64,
                text="words",
                word_count=1,
                fetched_at=datetime.now(UTC),
            )
        )


def test_sources_list_shows_the_latest_run_and_articles(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    _activity(migrated_db)
    path = sources_file(
        tmp_path,
        "  - name: example-news\n    feeds: [https://example.test/rss]\n    interval: 600\n"
        "  - name: quiet\n    feeds: [https://quiet.test/rss]\n    schedule: '5 * * * *'\n"
        "    enabled: false\n",
    )

    result = invoke("list", "--sources", str(path))

    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if "│" in line[:2]}
    news = lines["example-news"].split("│")
    assert [c.strip() for c in news[5:]] == [
        "yes",
        news[6].strip(),
        "failed",
        "2",
        "2",
        "0",
        "2",
        "1",
        "",
    ]
    assert news[6].strip().startswith(str(datetime.now(UTC).year))
    quiet = [c.strip() for c in lines["quiet"].split("│")]
    assert quiet[4:] == ["5 * * * *", "no", "-", "-", "-", "-", "-", "-", "-", ""]


def test_sources_list_without_a_database_shows_dashes(env: Path, tmp_path: Path) -> None:
    path = sources_file(
        tmp_path, "  - name: a\n    feeds: [https://a.example/rss]\n    interval: 600\n"
    )

    result = invoke("list", "--sources", str(path))

    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "│ a " in line)
    assert [c.strip() for c in row.split("│")][2:] == [
        "auto",
        "https://a.example/rss",
        "every 600s",
        "yes",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "",
    ]
    assert "no database at" in result.stderr
    assert not env.exists()


def test_source_activity_of_a_database_without_tables_is_empty(db_url: str) -> None:
    from storage.overview import source_activity

    assert source_activity(db_url) == {}


def test_source_activity_gives_the_latest_run_by_start(migrated_db: str) -> None:
    from storage.overview import source_activity

    _activity(migrated_db)

    activity = source_activity(migrated_db)["example-news"]

    assert (activity.last_status, activity.feed_items, activity.failed) == ("failed", 2, 2)
    assert activity.articles == 1
