"""Serve one scheduled deployment per source against a real Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tasks.sources import SourceConfig

START_HINT = (
    "start one with `prefect server start` and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api (scheduling does not work in ephemeral mode)"
)


class ServerUnavailable(Exception):
    pass


def check_server() -> str:
    """The configured Prefect API URL, if a server answers there."""
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise ServerUnavailable(
            f"PREFECT_API_URL is not set: no Prefect server to serve on; {START_HINT}"
        )
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServerUnavailable(
            f"no Prefect server answers at {api_url} ({exc}); {START_HINT}"
        ) from exc
    return str(api_url)


# Interval schedules count from a fixed anchor, so a restart of `serve` does not push every
# source's next run one whole interval into the future.
INTERVAL_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def schedule_of(source: SourceConfig) -> Any:
    from prefect.schedules import Cron, Interval

    if source.interval is not None:
        return Interval(timedelta(seconds=source.interval), anchor_date=INTERVAL_ANCHOR)
    return Cron(str(source.schedule), timezone="UTC")


def build_deployments(sources: list[SourceConfig], sources_path: Path) -> list[Any]:
    """One deployment per enabled source, named after it, never running twice at once."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from flows.ingest import ingest_news

    return [
        ingest_news.to_deployment(
            name=source.name,
            parameters={"source_names": [source.name], "sources_path": str(sources_path)},
            schedules=[schedule_of(source)],
            concurrency_limit=ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            ),
            tags=["newsflow", f"source:{source.name}"],
            description=f"Ingest {source.name}: {', '.join(source.documents)}",
        )
        for source in sources
        if source.enabled
    ]


def serve_sources(sources: list[SourceConfig], sources_path: Path) -> None:
    from prefect import serve

    serve(*build_deployments(sources, sources_path), pause_on_shutdown=False)
