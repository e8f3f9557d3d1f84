"""Per-source health as a Prometheus text exposition (``newsflow metrics``, and the same on an
HTTP endpoint with ``--port``): computed from the database at each scrape, so any process that
can read the database can export it (no state in the ingest processes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from storage.health import SourceHealth, source_health


def families(healths: list[SourceHealth], now: datetime) -> Iterator[GaugeMetricFamily]:
    """The metric families of these sources (gauges: the database's rows are pruned, so none of
    these only ever grows)."""
    source = ["source"]
    articles = GaugeMetricFamily("newsflow_articles_stored", "Articles stored", labels=source)
    runs = GaugeMetricFamily(
        "newsflow_runs", "Ingest runs recorded, by status", labels=["source", "status"]
    )
    failures = GaugeMetricFamily(
        "newsflow_fetch_failures_7d",
        "Failed fetches of the last 7 days by reason (robots.txt aside)",
        labels=["source", "reason"],
    )
    since = GaugeMetricFamily(
        "newsflow_seconds_since_last_success",
        "Seconds since the source's latest completed run finished",
        labels=source,
    )
    lag = GaugeMetricFamily(
        "newsflow_feed_lag_seconds",
        "Median delay from an article's publication to its storage, last 7 days",
        labels=source,
    )
    empty = GaugeMetricFamily(
        "newsflow_runs_without_new_articles",
        "The latest finished runs in a row that stored nothing",
        labels=source,
    )
    failed = GaugeMetricFamily(
        "newsflow_last_run_failed", "1 when the latest finished run did not complete", labels=source
    )
    for h in healths:
        articles.add_metric([h.source], h.articles)
        for status, count in sorted(h.runs.items()):
            runs.add_metric([h.source, status], count)
        for reason, count in sorted(h.failures_7d.items()):
            failures.add_metric([h.source, reason], count)
        if h.last_success_at is not None:
            since.add_metric([h.source], max(0.0, (now - h.last_success_at).total_seconds()))
        if h.feed_lag_seconds is not None:
            lag.add_metric([h.source], h.feed_lag_seconds)
        empty.add_metric([h.source], h.empty_runs)
        if h.last_status is not None:
            failed.add_metric([h.source], int(h.last_status != "completed"))
    yield from (articles, runs, failures, since, lag, empty, failed)


class HealthCollector:
    """A prometheus_client collector that reads the database at every scrape."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def collect(self) -> Iterator[Any]:
        from storage.engine import snapshot
        from storage.models import utcnow

        now = utcnow()
        with snapshot(self.db_url) as session:
            health = source_health(session, now)
        yield from families(health, now)


def registry_for(db_url: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(db_url))
    return registry


def exposition(db_url: str) -> str:
    """The Prometheus text format (0.0.4) of the database's per-source health."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(db_url)).decode("utf-8")


def serve_metrics(db_url: str, port: int, address: str) -> None:
    """Serve ``/metrics`` (any path) on ``address:port`` until interrupted."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, address, registry_for(db_url))
    try:
        while thread.is_alive():
            time.sleep(1)
    finally:
        server.shutdown()
