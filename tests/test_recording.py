"""The fixture recorder (``tasks/authoring/recording.py``, ``newsflow sources record``) against a
hand-written site on a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks.authoring.recording import RecordingError, is_recording, record_source, replay
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.sources import SourceConfig
from tests.loopback import LoopbackServer
from tests.sites import serve_site

CONFIG = FetchConfig(
    user_agent="newsflow-test",
    network_policy=NetworkPolicy.parse("127.0.0.0/8"),
    delay=0,
    retries=0,
)


def test_record_source_saves_feed_pages_and_what_they_extract_to(
    server: LoopbackServer, tmp_path: Path
) -> None:
    base = serve_site(server, "example-news")
    source = SourceConfig(name="example-news", feeds=[f"{base}/feed.xml"], interval=600)
    target = tmp_path / "example-news"

    expected = record_source(source, CONFIG, target, pages=2)

    assert sorted(p.name for p in target.iterdir()) == [
        "expected.json",
        "feed-0.xml",
        "meta.json",
        "page-0.html",
        "page-1.html",
    ]
    meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
    assert [f["url"] for f in meta["files"]] == [
        f"{base}/feed.xml",
        f"{base}/articles/harbour-bridge.html",
        f"{base}/articles/library-hours.html",
    ]
    assert (target / "page-1.html").read_bytes() == server.routes[
        "/articles/library-hours.html"
    ].body  # type: ignore[union-attr]
    assert [p["title"] for p in expected["pages"]] == [
        "Harbour bridge reopens after repairs",
        "Library extends its opening hours",
    ]
    assert expected["pages"][0]["authors"] == ["Maria Lindqvist"]
    assert json.loads((target / "expected.json").read_text(encoding="utf-8")) == expected


def test_record_source_replays_offline_to_its_expectation(
    server: LoopbackServer, tmp_path: Path
) -> None:
    base = serve_site(server, "example-news")
    source = SourceConfig(name="example-news", feeds=[f"{base}/feed.xml"], interval=600)
    target = tmp_path / "example-news"
    expected = record_source(source, CONFIG, target, pages=3)
    server.close()  # offline from here on
    server.routes.clear()

    assert is_recording(target)
    assert replay(target) == expected
    assert len(expected["feeds"][0]["items"]) == 3


def test_record_source_refuses_to_overwrite_without_force(
    server: LoopbackServer, tmp_path: Path
) -> None:
    base = serve_site(server, "example-news")
    source = SourceConfig(name="example-news", feeds=[f"{base}/feed.xml"], interval=600)
    target = tmp_path / "example-news"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(RecordingError, match="not empty"):
        record_source(source, CONFIG, target)

    assert (target / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_sources_record_cli_writes_the_recording(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    base = serve_site(server, "tagesblick")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: tagesblick\n    feeds: [{base}/atom.xml]\n    interval: 600\n",
        encoding="utf-8",
    )
    fixtures = tmp_path / "fixtures"

    result = CliRunner().invoke(
        app,
        ["sources", "record", "tagesblick", "--sources", str(sources), "--dir", str(fixtures)],
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    assert "page-1.html: 'Neuer Radweg zwischen den Dörfern'" in result.output
    assert is_recording(fixtures / "tagesblick")


def test_sources_record_cli_exits_1_when_no_feed_reads(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_RETRIES", "0")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: gone\n    feeds: [{server.url('/gone.xml')}]\n    interval: 600\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(
        app,
        ["sources", "record", "gone", "--sources", str(sources), "--dir", str(tmp_path / "fx")],
        catch_exceptions=False,
    )

    assert result.exit_code == 1
    assert "no feed could be read" in result.stderr and "http_404" in result.stderr
    assert not (tmp_path / "fx").exists()
