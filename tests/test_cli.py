"""The ``newsflow`` console script as an operator runs it: exit codes, recorded reasons, re-runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.migrate import head_revision
from tests.loopback import LoopbackServer, Route, corpus_pages, rss_feed, serve_pages

NEWSFLOW = Path(sys.executable).with_name("newsflow")
RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect home for this module's subprocesses (its ephemeral DB is reused)."""
    return tmp_path_factory.mktemp("prefect-home")


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    full_env.update(env)
    return subprocess.run(
        [str(NEWSFLOW), *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def site(server: LoopbackServer, corpus: Path) -> Iterator[LoopbackServer]:
    """A feed mixing one real article with every page-level fault, and two broken feeds."""
    (good,) = serve_pages(server, corpus_pages(corpus, ["wired.com/wired.com1"]))
    server.routes["/missing.html"] = Route(b"gone", 404)
    server.routes["/report.pdf"] = Route(b"%PDF-1.4", headers={"Content-Type": "application/pdf"})
    server.routes["/empty.html"] = Route(b"<html><body><nav>Home | About</nav></body></html>")
    links = [
        good,
        server.url("/missing.html"),
        server.url("/report.pdf"),
        server.url("/empty.html"),
    ]
    server.routes["/feed.xml"] = Route(rss_feed("faults", links), headers=RSS)
    server.routes["/not-a-feed"] = Route(b"<html><body><p>Hello</p></body></html>")
    yield server


def write_sources(path: Path, site: LoopbackServer) -> Path:
    path.write_text(
        "sources:\n"
        "  - name: faulty\n"
        f"    feeds: [{site.url('/feed.xml')}, http://127.0.0.1:1/closed.xml]\n"
        "    interval: 600\n"
        "  - name: dead\n"
        f"    feeds: [{site.url('/not-a-feed')}]\n"
        "    interval: 600\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_cli_ingest_records_every_fault_and_goes_on(
    site: LoopbackServer, tmp_path: Path, prefect_home: Path
) -> None:
    sources = write_sources(tmp_path / "sources.yaml", site)
    db = tmp_path / "news.db"
    env = {
        "PREFECT_HOME": str(prefect_home),
        "NEWSFLOW_DATABASE_URL": f"sqlite:///{db}",
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
    }

    first = run_cli(["ingest", "--sources", str(sources)], env, tmp_path)

    assert first.returncode == 0, first.stderr[-3000:]  # one source failed, not all
    assert "faulty" in first.stdout and "dead" in first.stdout
    assert f"database: sqlite:///{db}" in first.stdout
    reasons = {r[0] for r in rows(db, "SELECT reason FROM fetches")}
    assert {"ok", "http_404", "not_html", "no_extractable_text"} <= reasons
    assert {"conn_error", "feed_unparseable"} <= reasons
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]
    sql = "SELECT s.name, r.status FROM ingest_runs r JOIN sources s ON s.id = r.source_id"
    assert sorted(rows(db, sql)) == [("dead", "failed"), ("faulty", "completed")]

    second = run_cli(["ingest", "faulty", "--sources", str(sources)], env, tmp_path)

    assert second.returncode == 0, second.stderr[-3000:]
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]
    last = rows(db, "SELECT feed_items, new FROM ingest_runs ORDER BY id DESC LIMIT 1")
    assert last == [(0, 0)]  # the feed is unchanged: no further work


@pytest.mark.slow
def test_cli_ingest_exits_1_when_every_source_fails(
    site: LoopbackServer, tmp_path: Path, prefect_home: Path
) -> None:
    sources = write_sources(tmp_path / "sources.yaml", site)
    db = tmp_path / "news.db"
    env = {"PREFECT_HOME": str(prefect_home), "NEWSFLOW_DATABASE_URL": f"sqlite:///{db}"}

    result = run_cli(["ingest", "--sources", str(sources)], env, tmp_path)  # loopback refused

    assert result.returncode == 1, result.stderr[-3000:]
    reasons = {r[0] for r in rows(db, "SELECT reason FROM fetches")}
    assert reasons == {"blocked_address"}
    assert site.hits == []  # refused before connecting


def test_cli_rejects_an_invalid_sources_file_before_anything_runs(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: good\n    feeds: [https://example.com/rss]\n    interval: 600\n"
        "  - name: bad\n    feeds: [https://example.com/rss]\n    schedule: hourly\n",
        encoding="utf-8",
    )
    db = tmp_path / "news.db"

    result = run_cli(
        ["ingest", "--sources", str(sources)],
        {"NEWSFLOW_DATABASE_URL": f"sqlite:///{db}"},
        tmp_path,
    )

    assert result.returncode == 2
    assert "entry 2 ('bad'), field schedule" in result.stderr
    assert not db.exists()


def test_cli_rejects_an_unknown_source_name(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: one\n    feeds: [https://example.com/rss]\n    interval: 600\n"
    )

    result = run_cli(["ingest", "two", "--sources", str(sources)], {}, tmp_path)

    assert result.returncode == 2
    assert "unknown source(s): two" in result.stderr


@pytest.mark.parametrize("command", [["ingest"], ["sources", "try"], ["deployments", "write"]])
def test_cli_error_prints_user_text_literally(tmp_path: Path, command: list[str]) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: one\n    feeds: [https://example.com/rss]\n    interval: 600\n"
    )
    # An unknown name that is rich markup; `deployments write` gets it as its sources file.
    args = ["--sources", str(tmp_path / "[/]")] if command[0] == "deployments" else ["[/]"]
    if command[0] != "deployments":
        args += ["--sources", str(sources)]

    result = run_cli([*command, *args], {}, tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr and "[/]" in result.stderr


def test_cli_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    env = {"NEWSFLOW_DATABASE_URL": f"sqlite:///{db}"}

    upgraded = run_cli(["db", "upgrade"], env, tmp_path)
    current = run_cli(["db", "current"], env, tmp_path)

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"{head_revision()} (head: {head_revision()})" in current.stdout
    assert ("articles",) in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
