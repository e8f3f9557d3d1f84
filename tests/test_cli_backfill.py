"""``newsflow backfill`` as a user runs it: a WARC written here is backfilled (re-runs are covered
by tests/test_source_kinds_e2e.py), and the usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loopback import corpus_pages
from tests.test_cli import prefect_home, rows, run_cli
from tests.test_source_kinds_e2e import write_warc

__all__ = ["prefect_home"]  # the module-scoped fixture, shared with test_cli


def test_cli_backfill_warc_stores_the_pages(
    corpus: Path, tmp_path: Path, prefect_home: Path
) -> None:
    pages = corpus_pages(corpus, ["wired.com/wired.com1", "space.com/space.com1"])
    warc = write_warc(
        tmp_path / "cc-news.warc.gz",
        [(str(p.expected["url"]), 200, "text/html", p.html.read_bytes()) for p in pages],
    )
    db = tmp_path / "news.db"
    env = {"PREFECT_HOME": str(prefect_home), "NEWSFLOW_DATABASE_URL": f"sqlite:///{db}"}
    args = ["backfill", "--warc", str(warc), "--source", "cc-news"]

    result = run_cli(args, env, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "cc-news" in result.stdout and "completed" in result.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(2,)]
    sql = "SELECT s.name, r.status, r.new FROM ingest_runs r JOIN sources s ON s.id = r.source_id"
    assert rows(db, sql) == [("cc-news", "completed", 2)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["backfill"], "give --warc FILE... or --sitemap URL", id="neither"),
        pytest.param(
            ["backfill", "--warc", "a.warc", "--sitemap", "https://x.test/s.xml"],
            "give --warc FILE... or --sitemap URL",
            id="both",
        ),
        pytest.param(["backfill", "--warc", "missing.warc.gz"], "no such WARC file", id="missing"),
    ],
)
def test_cli_backfill_usage_errors_exit_2(
    args: list[str], message: str, tmp_path: Path, prefect_home: Path
) -> None:
    env = {"PREFECT_HOME": str(prefect_home), "NEWSFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}

    result = run_cli(args, env, tmp_path)

    assert result.returncode == 2
    assert message in result.stderr
