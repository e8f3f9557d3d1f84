"""Per-source health (storage/health.py) on SQLite and PostgreSQL, what `newsflow stats` says
about why a source fails, and `newsflow metrics` parsed with prometheus_client's own parser."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flows.metrics import exposition
from storage.engine import snapshot
from storage.health import SourceHealth, empty_streaks, source_health
from tests.analytics_data import DIALECTS, Filled, filled_databases, newsroom
from tests.test_analytics import NEWSFLOW, run_cli

newsrooms = pytest.fixture(scope="module", name="newsrooms")(filled_databases)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _health(db_url: str) -> list[SourceHealth]:
    with snapshot(db_url) as session:
        return source_health(session)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_source_health_says_why_and_how_long(newsrooms: Filled, dialect: str) -> None:
    db_url, room = newsroom(newsrooms, dialect)

    health = {h.source: h for h in _health(db_url)}

    assert {name: h.articles for name, h in health.items()} == room.articles
    assert health["bbc-world"].failures_7d == {"http_404": 1, "timeout": 1}  # robots.txt aside
    assert health["guardian-world"].failures_7d == {"not_html": 1}
    assert health["dw-top"].failures_7d == {"conn_error": 3}
    assert health["dw-top"].runs == {"completed": 5, "failed": 3}
    assert health["dw-top"].last_status == "failed"
    assert health["dw-top"].last_error == "no feed could be read (conn_error)"
    assert health["dw-top"].empty_runs == 6  # three empty completed runs, three failed ones
    assert health["bbc-world"].empty_runs == 0
    for name, h in health.items():
        assert h.last_success_at is not None, name
        assert h.feed_lag_seconds is not None and h.feed_lag_seconds > 0, name


@pytest.mark.parametrize("dialect", DIALECTS)
def test_empty_streaks_count_the_latest_runs_that_stored_nothing(
    newsrooms: Filled, dialect: str
) -> None:
    db_url, _room = newsroom(newsrooms, dialect)
    with snapshot(db_url) as session:
        some = empty_streaks(session, ["dw-top", "bbc-world", "no-such-source"])
        every = empty_streaks(session)
    assert some == {"dw-top": 6}  # a source whose latest run stored articles has no streak
    assert every["dw-top"] == 6 and "bbc-world" not in every


@pytest.mark.parametrize("dialect", DIALECTS)
def test_metrics_exposition_parses_with_prometheus_client(newsrooms: Filled, dialect: str) -> None:
    db_url, room = newsroom(newsrooms, dialect)

    found = samples(exposition(db_url))

    for name, count in room.articles.items():
        assert found[("newsflow_articles_stored", (("source", name),))] == count
    assert found[("newsflow_runs", (("source", "dw-top"), ("status", "failed")))] == 3
    reason = (("reason", "http_404"), ("source", "bbc-world"))
    assert found[("newsflow_fetch_failures_7d", reason)] == 1
    assert found[("newsflow_last_run_failed", (("source", "dw-top"),))] == 1
    assert found[("newsflow_last_run_failed", (("source", "bbc-world"),))] == 0
    assert found[("newsflow_runs_without_new_articles", (("source", "dw-top"),))] == 6
    since = found[("newsflow_seconds_since_last_success", (("source", "bbc-world"),))]
    assert 0 <= since < 3600
    lag = found[("newsflow_feed_lag_seconds", (("source", "dw-top"),))]
    assert 2 * 86400 <= lag <= 4 * 86400  # published 2 and 4 days before it was stored


def test_cli_stats_says_why_a_source_fails(newsrooms: Filled, tmp_path: Path) -> None:
    db_url, _ = newsroom(newsrooms, "sqlite")

    result = run_cli(["stats"], db_url, tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "bbc-world: failed 7d: http_404 1, timeout 1" in lines
    assert (
        "dw-top: failed 7d: conn_error 3; last run failed: no feed could be read (conn_error)"
        in lines
    )


def test_cli_metrics_prints_and_serves_the_same_exposition(
    newsrooms: Filled, tmp_path: Path
) -> None:
    db_url, _ = newsroom(newsrooms, "sqlite")
    printed = run_cli(["metrics"], db_url, tmp_path)
    assert printed.returncode == 0, printed.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env["NEWSFLOW_DATABASE_URL"] = db_url
    proc = subprocess.Popen(
        [str(NEWSFLOW), "metrics", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)

    assert scraped.status_code == 200
    assert samples(scraped.text).keys() == samples(printed.stdout).keys()
