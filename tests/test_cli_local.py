"""``newsflow ingest`` with no Prefect server configured runs without Prefect's engine: no
temporary server is started, so a run that finds nothing new prints no ERROR and no traceback;
a run whose every feed fails on DNS or the connection says the machine may be offline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Route, rss_feed

NEWSFLOW = Path(sys.executable).with_name("newsflow")
RSS = {"Content-Type": "application/rss+xml"}


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSFLOW_", "PREFECT_API_URL", "PREFECT_LOGGING_LEVEL"))
    }
    return subprocess.run(
        [str(NEWSFLOW), *args],
        env=base | {"PREFECT_HOME": str(cwd / "prefect-home")} | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.slow
def test_cli_ingest_repeated_no_op_prints_no_error_and_starts_no_server(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.routes["/feed.xml"] = Route(rss_feed("quiet", []), headers=RSS)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: quiet\n    feeds: [{server.url('/feed.xml')}]\n    interval: 600\n",
        encoding="utf-8",
    )
    env = {
        "NEWSFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'news.db'}",
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
    }

    runs = [run_cli(["ingest", "--sources", str(sources)], env, tmp_path) for _ in range(2)]

    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "ERROR" not in done.stderr, done.stderr
        assert "temporary server" not in done.stderr, done.stderr  # no ephemeral Prefect
        assert "quiet completed: feed items 0" in done.stderr, done.stderr  # the INFO line
    assert not (tmp_path / "prefect-home" / "prefect.db").exists()


@pytest.mark.slow
def test_cli_ingest_every_feed_unreachable_says_machine_may_be_offline(tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n"
            f"  - name: one\n    feeds: [http://127.0.0.1:{port}/a.xml]\n    interval: 600\n"
            f"  - name: two\n    feeds: [http://127.0.0.1:{port}/b.xml]\n    interval: 600\n",
            encoding="utf-8",
        )
        env = {
            "NEWSFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'news.db'}",
            "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
            "NEWSFLOW_RETRIES": "0",
        }
        done = run_cli(["ingest", "--sources", str(sources)], env, tmp_path)

    assert done.returncode == 1, done.stderr
    assert "this machine may be offline" in " ".join(done.stdout.split()), done.stdout
    assert "Traceback" not in done.stderr, done.stderr
