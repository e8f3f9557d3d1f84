"""prefect.yaml is generated from sources.yaml (so it never drifts): one deployment per enabled
source, its schedule and parameters, on the process work pool, one run at a time. Registration
against a real server is tested in tests/test_compose_processes.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.deployments import (
    ENTRYPOINT,
    ZOMBIE_AUTOMATION,
    DeploymentsError,
    ensure_zombie_automation,
    render,
    zombie_automation,
)
from flows.settings import Settings
from tasks.sources import load_sources

ROOT = Path(__file__).resolve().parent.parent
NEWSFLOW = Path(sys.executable).with_name("newsflow")


def write_sources(path: Path) -> Path:
    path.write_text(
        "sources:\n"
        "  - name: hourly\n"
        "    feeds: [https://news.example/rss]\n"
        "    interval: 3600\n"
        "  - name: cron\n"
        "    feeds: [https://news.example/cron, https://news.example/more]\n"
        '    schedule: "7,37 * * * *"\n'
        "  - name: disabled\n"
        "    feeds: [https://news.example/off]\n"
        "    interval: 600\n"
        "    enabled: false\n",
        encoding="utf-8",
    )
    return path


def spec(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_committed_prefect_yaml_is_generated_from_committed_sources() -> None:
    committed = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert committed == render(load_sources(ROOT / "sources.yaml"), "newsflow"), (
        "prefect.yaml is stale: run `newsflow deployments write`"
    )


def test_deployments_write_cli_writes_the_committed_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    done = subprocess.run(
        [str(NEWSFLOW), "deployments", "write", "--output", str(tmp_path / "prefect.yaml")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "prefect.yaml").read_text(encoding="utf-8")
    assert written == (ROOT / "prefect.yaml").read_text(encoding="utf-8")


def test_render_one_deployment_per_enabled_source(tmp_path: Path) -> None:
    from flows.ingest import ingest_news

    text = render(load_sources(write_sources(tmp_path / "sources.yaml")), "pool-x", "/srv/app")
    deployments = spec(text)["deployments"]

    assert [d["name"] for d in deployments] == ["hourly", "cron"]  # not the disabled one
    for deployment in deployments:
        assert deployment["entrypoint"] == ENTRYPOINT
        assert (ROOT / ENTRYPOINT.split(":")[0]).is_file()
        assert deployment["parameters"]["source_names"] == [deployment["name"]]
        ingest_news.validate_parameters(deployment["parameters"])  # the flow accepts them
        assert deployment["work_pool"] == {"name": "pool-x"}
        assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert deployments[1]["description"].endswith("https://news.example/more")


def test_render_code_comes_from_the_working_directory_not_remote_storage(tmp_path: Path) -> None:
    text = render(load_sources(write_sources(tmp_path / "sources.yaml")), "pool-x", "/srv/app")
    loaded = spec(text)

    assert loaded["build"] is None and loaded["push"] is None
    assert loaded["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "/srv/app"}}
    ]


def test_render_schedules_are_what_prefect_deploy_builds(tmp_path: Path) -> None:
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    from flows.serve import INTERVAL_ANCHOR

    text = render(load_sources(write_sources(tmp_path / "sources.yaml")), "pool-x", "/srv/app")
    model = PrefectYamlModel.model_validate(spec(text))  # the model `prefect deploy` reads
    hourly, cron = (
        _schedule_config_to_deployment_schedule(d.model_dump(exclude_none=True)["schedules"][0])[
            "schedule"
        ]
        for d in model.deployments
    )

    assert isinstance(hourly, IntervalSchedule)
    assert hourly.interval == timedelta(seconds=3600)
    assert hourly.anchor_date == INTERVAL_ANCHOR  # restarts keep the rhythm
    assert isinstance(cron, CronSchedule)
    assert (cron.cron, cron.timezone) == ("7,37 * * * *", "UTC")


def test_zombie_automation_is_prefects_heartbeat_recipe() -> None:
    automation = zombie_automation(300)
    trigger = automation.trigger
    assert automation.name == ZOMBIE_AUTOMATION
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    assert "prefect.flow-run.heartbeat" in trigger.expect
    assert "prefect.flow-run.Completed" in trigger.expect
    assert trigger.within == timedelta(seconds=300)
    assert [a.type for a in automation.actions] == ["change-flow-run-state"]


def test_zombie_automation_below_two_heartbeats_is_refused() -> None:
    with pytest.raises(DeploymentsError, match="below 60"):
        ensure_zombie_automation(45)  # refused before any server is asked


def test_render_deployments_carry_their_source_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import resolve_sources

    path = write_sources(tmp_path / "sources.yaml")
    written = {s.name: s for s in load_sources(path)}
    deployments = spec(render(list(written.values()), "pool-x", "/srv/app"))["deployments"]
    path.unlink()  # what a worker without the file sees
    monkeypatch.chdir(tmp_path)

    for deployment in deployments:
        params = deployment["parameters"]
        (source,) = resolve_sources(
            Settings(), params["source_names"], None, params["source_entries"]
        )
        assert source == written[deployment["name"]]


def test_resolve_sources_names_the_file_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import resolve_sources
    from tasks.sources import SourcesError

    path = write_sources(tmp_path / "sources.yaml")
    with pytest.raises(SourcesError, match=rf"unknown source\(s\): other.*{path}"):
        resolve_sources(Settings(), ["other"], str(path))
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(tmp_path / "missing.yaml"))
    with pytest.raises(SourcesError, match=rf"cannot read sources file {tmp_path}/missing.yaml"):
        resolve_sources(Settings(), ["hourly"], None)


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(part.rstrip("/") for part in line.split()[1:-1])
    assert "*" in ignore  # everything else (.venv, *.db, .git) stays out of the context
    assert allowed == copied
