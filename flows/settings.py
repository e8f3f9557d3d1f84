"""The one place that reads the environment (prefix ``NEWSFLOW_``)."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tasks.dedup.boilerplate import Rule
from tasks.extract.workers import PoolLimits
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.sources import SourceConfig

DEFAULT_CONTACT_URL = "https://github.com/newsflow-project/newsflow"


def _parse_private_networks(value: Any) -> str:
    """Accept ``true``/``false`` or a comma-separated list of CIDRs; keep the text, validated."""
    text = str(value).strip()
    NetworkPolicy.parse(text)  # raises ValueError with a clear message
    return text


class Settings(BaseSettings):
    """Every knob of the pipeline. Environment variables are ``NEWSFLOW_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore")

    database_url: str = "sqlite:///newsflow.db"
    sources: Path = Path("sources.yaml")
    contact_url: str = DEFAULT_CONTACT_URL
    user_agent: str | None = None
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    total_timeout: float = Field(60.0, gt=0)
    max_page_bytes: int = Field(10_000_000, gt=0)
    max_feed_bytes: int = Field(20_000_000, gt=0)
    allow_private_networks: Annotated[str, NoDecode, BeforeValidator(_parse_private_networks)] = (
        "false"
    )
    fetch_delay: float = Field(1.0, ge=0)
    fetch_concurrency: int = Field(8, ge=1)
    retries: int = Field(2, ge=0, le=5)
    retry_backoff: float = Field(0.5, ge=0)
    retry_after_max: float = Field(30.0, ge=0)
    host_max_failures: int = Field(5, ge=1)
    # Per-host turns shared by every worker of the database (table host_slots): auto = on for
    # PostgreSQL (workers on many machines), off for SQLite (one machine, one process is usual).
    shared_host_slots: Literal["auto", "true", "false"] = "auto"
    robots: bool = True
    max_crawl_delay: float = Field(60.0, ge=0)
    feed_revalidate_hours: float = Field(24.0, gt=0)
    near_dup_threshold: float = Field(0.5, gt=0, le=1)
    near_dup_window_days: float = Field(30.0, gt=0)
    revision_window_hours: float = Field(48.0, ge=0)
    revision_interval_hours: float = Field(6.0, ge=0)
    max_rechecks_per_source: int = Field(100, ge=0)
    fail_share: float = Field(1.0, gt=0, le=1)
    stale_run_minutes: float = Field(60.0, gt=0)
    batch_size: int = Field(50, ge=1)
    # Batches between the start of their fetch and the end of their store, at once (a run's
    # pages held in memory: about this times batch_size).
    batches_in_flight: int = Field(4, ge=1)
    max_items_per_source: int = Field(500, ge=1)
    backfill_max_items: int = Field(100_000, ge=1)  # pages one sitemap backfill may list
    extract_workers: int = Field(2, ge=0)
    boilerplate: bool = True  # learn each source's recurring lines and strip them
    boilerplate_min_pages: int = Field(3, ge=2)
    boilerplate_min_share: float = Field(0.05, ge=0, le=1)
    boilerplate_window: int = Field(200, ge=1)
    extract_timeout: float = Field(20.0, gt=0)
    max_html_bytes: int = Field(5_000_000, gt=0)
    extract_recycle_after: int = Field(1000, ge=1)  # pages a worker extracts before it is replaced
    extract_recycle_rss_mb: int = Field(300, ge=0)  # ... or once its RSS passes this (0: off)
    extract_max_rss_mb: int = Field(512, ge=0)  # killed mid-page past this (0: off)
    # `deployments apply`: a flow run without a heartbeat for this long is marked Crashed by a
    # Prefect automation (0: no automation). Above PREFECT_FLOWS_HEARTBEAT_FREQUENCY, with margin.
    zombie_after_seconds: int = Field(600, ge=0)
    # `deployments apply`: Prefect automations that notify through this notification block
    # (`<block-type-slug>/<name>`, e.g. `slack-webhook/ops`, or a block's name) when a newsflow
    # flow run fails or crashes, and when a source's latest `alert_empty_runs` runs in a row
    # stored nothing (0: not that one). Unset: no alerts (apply removes them).
    alert_block: Annotated[str | None, BeforeValidator(lambda v: v or None)] = None  # "": unset
    alert_empty_runs: int = Field(5, ge=0)
    keep_raw_html: bool = True
    # `newsflow ingest` without PREFECT_API_URL runs without Prefect's engine (no temporary
    # server); true: as a flow on a temporary server, recorded in PREFECT_HOME's database.
    prefect_ephemeral: bool = False
    raw_html_retention_days: float = Field(30.0, ge=0)  # 0: keep forever

    @cached_property
    def network_policy(self) -> NetworkPolicy:
        return NetworkPolicy.parse(self.allow_private_networks)

    @property
    def effective_user_agent(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        if self.user_agent:
            return self.user_agent
        try:
            ver = version("newsflow")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            ver = "0"
        return f"newsflow/{ver} (+{self.contact_url})"

    def boilerplate_rule(self) -> Rule:
        return Rule(
            min_pages=self.boilerplate_min_pages,
            min_share=self.boilerplate_min_share,
            window=self.boilerplate_window,
        )

    @property
    def pool_limits(self) -> PoolLimits:
        return PoolLimits(
            timeout=self.extract_timeout,
            max_html_bytes=self.max_html_bytes,
            recycle_after=self.extract_recycle_after,
            recycle_rss_mb=self.extract_recycle_rss_mb,
            max_rss_mb=self.extract_max_rss_mb,
        )

    @property
    def shares_host_slots(self) -> bool:
        from sqlalchemy.engine import make_url

        if self.shared_host_slots == "auto":
            return make_url(self.database_url).get_backend_name() == "postgresql"
        return self.shared_host_slots == "true"

    def source_fetch_config(self, source: SourceConfig) -> FetchConfig:
        """The fetch configuration of ``source``'s requests: its ``delay`` and ``proxy``."""
        return replace(self.fetch_config(source.delay), proxy=source.proxy)

    def fetch_config(self, delay: float | None = None) -> FetchConfig:
        return FetchConfig(
            user_agent=self.effective_user_agent,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            max_page_bytes=self.max_page_bytes,
            max_feed_bytes=self.max_feed_bytes,
            network_policy=self.network_policy,
            delay=self.fetch_delay if delay is None else delay,
            concurrency=self.fetch_concurrency,
            retries=self.retries,
            backoff=self.retry_backoff,
            retry_after_max=self.retry_after_max,
            robots=self.robots,
            max_crawl_delay=self.max_crawl_delay,
            host_max_failures=self.host_max_failures,
        )


def redact_url(url: str) -> str:
    """A database URL fit to print: the password replaced."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


PREFECT_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "newsflow",
}


def apply_prefect_defaults() -> None:
    """Telemetry off and quiet task logs unless the operator set otherwise (call before
    importing prefect)."""
    import os

    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
