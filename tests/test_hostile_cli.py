"""CLI output never reads user text as console markup (issue 16): a source named ``[/]``, a pool
called ``[bold]x[/]``, a URL with brackets print literally, with the documented exit status and no
``MarkupError``; ``sources try`` on a broken feed shows no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flows.cli import app
from tests.loopback import LoopbackServer, Route, rss_feed

RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "news.db"
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_RETRIES", "0")
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "0")
    return db


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def sources_file(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + entries, encoding="utf-8")
    return path


def test_ingest_unknown_source_named_like_markup_prints_literally_exit_2(
    env: Path, tmp_path: Path
) -> None:
    path = sources_file(
        tmp_path, "  - name: one\n    feeds: [https://a.test/rss]\n    interval: 60\n"
    )

    result = invoke("ingest", "[/]", "[bold]two[/bold]", "--sources", str(path))

    assert result.exit_code == 2
    assert "[/]" in result.stderr and "[bold]two[/bold]" in result.stderr


@pytest.mark.parametrize("command", [("ingest",), ("deployments", "write", "--output", "-")])
def test_bad_sources_entry_named_like_markup_prints_literally_exit_2(
    env: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = sources_file(
        tmp_path, "  - name: '[/]'\n    feeds: [https://a.test/rss]\n    schedule: '[red]x[/red]'\n"
    )

    result = invoke(*command, "--sources", str(path))

    assert result.exit_code == 2
    assert "[/]" in result.stderr and "[red]x[/red]" in result.stderr


def test_deployments_write_pool_and_output_print_literally(env: Path, tmp_path: Path) -> None:
    path = sources_file(
        tmp_path, "  - name: one\n    feeds: [https://a.test/rss]\n    interval: 60\n"
    )
    output = tmp_path / "[b]out[b].yaml"

    result = invoke(
        "deployments", "write", "--pool", "[/]", "--output", str(output), "--sources", str(path)
    )

    assert result.exit_code == 0, result.output
    assert "pool '[/]'" in result.stdout and "[b]out[b].yaml" in result.stdout


def test_ingest_error_lines_with_brackets_print_literally(
    env: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    server.routes["/good.xml"] = Route(rss_feed("good", []), headers=RSS)
    feeds = f"[{server.url('/good.xml')}, '{server.url('/x/[/]feed.xml')}']"
    path = sources_file(tmp_path, f"  - name: loop\n    feeds: {feeds}\n    interval: 60\n")

    result = invoke("ingest", "--sources", str(path))

    assert result.exit_code == 0, result.output
    assert "/x/[/]feed.xml: http_404" in result.stdout


def test_sources_try_feed_with_surrogate_reference_shows_no_traceback(
    env: Path, server: LoopbackServer
) -> None:
    server.routes["/feed.xml"] = Route(
        b'<rss version="2.0"><channel><title>t</title><item><title>a &#xD800; b</title>'
        + f"<link>{server.url('/story')}</link></item></channel></rss>".encode(),
        headers=RSS,
    )

    result = invoke("sources", "try", server.url("/feed.xml"))

    assert "Traceback" not in result.output
    assert f"feed {server.url('/feed.xml')}: ok, 1 items" in result.stdout
