"""``newsflow serve`` and ``newsflow deployments apply`` against one real Prefect server: each
refuses to replace the other's ``ingest-news/<source>`` deployments (they cannot run each other's
runs), with a message that says who registered them and what to do; ``apply --sources FILE``
registers deployments that carry their source's entry."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_serve import (  # noqa: F401 - fixtures
    SCRIPTS,
    Processes,
    call,
    clean_env,
    prefect_server,
    processes,
    tail,
    wait_for,
    write_sources,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def newsflow(args: list[str], api: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / "newsflow"), *args],
        env=clean_env(
            PREFECT_HOME=str(tmp_path / "cli-home"),
            PREFECT_API_URL=api,
            NEWSFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'news.db'}",
            NEWSFLOW_ZOMBIE_AFTER_SECONDS="0",
        ),
        cwd=ROOT,  # `apply` deploys the code of the current directory
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ours(client: httpx.Client) -> dict[str, dict[str, Any]]:
    body = {"flows": {"name": {"any_": ["ingest-news"]}}}
    return {d["name"]: d for d in call(client, "POST", "/deployments/filter", json=body).json()}


@pytest.mark.timeout(300)
def test_serve_and_apply_refuse_to_replace_each_others_deployments(
    prefect_server: str,  # noqa: F811
    processes: Processes,  # noqa: F811
    tmp_path: Path,
) -> None:
    api = prefect_server
    sources = write_sources(
        tmp_path / "elsewhere.yaml", "https://news.example/rss", "https://news.example/cron"
    )

    applied = newsflow(["deployments", "apply", "--sources", str(sources)], api, tmp_path)

    assert applied.returncode == 0, applied.stdout + applied.stderr
    with httpx.Client(base_url=api, timeout=30) as client:
        before = ours(client)
        assert set(before) == {"loop-hourly", "loop-cron"}
        entry = before["loop-hourly"]["parameters"]["source_entries"]
        assert entry == [{"name": "loop-hourly", "feeds": ["https://news.example/rss"],
                          "interval": 3600}]  # fmt: skip

        refused = newsflow(["serve", "--sources", str(sources)], api, tmp_path)

        message = " ".join(refused.stderr.split())
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "registered by `newsflow deployments apply` on work pool newsflow" in message
        assert "prefect worker start --pool newsflow" in message
        assert "prefect deployment delete ingest-news/loop-cron" in message
        after = ours(client)
        for name, deployment in after.items():  # untouched
            assert deployment["work_pool_name"] == "newsflow", name
            assert deployment["pull_steps"] == before[name]["pull_steps"]
            assert deployment["parameters"] == before[name]["parameters"]

        for deployment in after.values():
            call(client, "DELETE", f"/deployments/{deployment['id']}")
        log = tmp_path / "serve.log"
        serve = processes.start(
            [str(SCRIPTS / "newsflow"), "serve", "--sources", str(sources)],
            env=clean_env(
                PREFECT_HOME=str(tmp_path / "serve-home"),
                PREFECT_API_URL=api,
                NEWSFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'news.db'}",
            ),
            cwd=tmp_path,
            log=log,
        )
        wait_for(lambda: True if len(ours(client)) == 2 else None, 60, f"serve; log:\n{tail(log)}")
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
        served = ours(client)

        refused = newsflow(["deployments", "apply", "--sources", str(sources)], api, tmp_path)

        message = " ".join(refused.stderr.split())
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "registered by `newsflow serve`" in message, message
        assert "prefect deployment delete ingest-news/loop-hourly" in message, message
        for name, deployment in ours(client).items():
            assert deployment["work_pool_name"] is None, name
            assert deployment["parameters"] == served[name]["parameters"]
