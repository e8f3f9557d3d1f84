"""Per-process state (flows/runtime.py): a run's host registry is released however the run ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from flows import runtime
from tests.loopback import LoopbackServer, Route, rss_feed


def test_run_hosts_releases_the_registry_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), runtime.run_hosts("run-a"):
        runtime.registry_for("run-a")
        assert "run-a" in runtime.active_registries()
        raise RuntimeError("the run broke")
    assert "run-a" not in runtime.active_registries()


def test_release_run_hook_releases_the_flow_runs_registry() -> None:
    class Run:
        id = "flow-run-1"

    runtime.registry_for("flow-run-1")
    runtime.release_run_hook(None, cast(Any, Run()), cast(Any, None))
    assert "flow-run-1" not in runtime.active_registries()


def test_ingest_failing_run_releases_its_host_registry(
    monkeypatch: pytest.MonkeyPatch, migrated_db: str, server: LoopbackServer, tmp_path: Path
) -> None:
    from flows import ingest, steps

    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", migrated_db)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "0")
    server.routes["/rss.xml"] = Route(
        rss_feed("loop", []), headers={"Content-Type": "application/rss+xml"}
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: loop\n    feeds: [{server.url('/rss.xml')}]\n    interval: 600\n",
        encoding="utf-8",
    )
    held: list[frozenset[str]] = []

    def broken_finish(*_args: Any, **_kwargs: Any) -> None:
        held.append(runtime.active_registries())  # discovery has made the run's registry
        raise RuntimeError("the database went away")

    monkeypatch.setattr(steps, "finish_run", broken_finish)
    state = ingest.ingest_news(sources_path=str(sources), return_state=True)

    assert state.is_failed(), state
    assert held and held[0], "the run held no host registry: the test would prove nothing"
    assert not held[0] & runtime.active_registries()
