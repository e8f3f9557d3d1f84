"""The ``ingest-news`` flow: compose the steps for each selected source."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import State, allow_failure, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows import runtime, steps
from flows.settings import Settings
from flows.summary import SourceReport, markdown_summary
from storage import runs
from storage.engine import snapshot, transaction
from storage.migrate import ensure_schema
from tasks.records import RunCounts
from tasks.sources import SourceConfig, load_sources, select_sources

T = TypeVar("T")


def resolve_sources(
    settings: Settings, names: list[str] | None, sources_path: str | None
) -> list[SourceConfig]:
    path = Path(sources_path) if sources_path else settings.sources
    return select_sources(load_sources(path), names)


def batches(values: list[T], size: int) -> list[list[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def result_or_none(future: PrefectFuture[Any]) -> Any:
    """The task's result, or ``None`` if it failed (its state message says why)."""
    future.wait()
    return future.result() if future.state.is_completed() else None


def summarize(report: SourceReport, found: steps.Discovery | None, chain: list[Any]) -> None:
    if found is None:
        report.status = "failed"
        report.errors.append("discovery failed")
        return
    report.counts.add(found.counts)
    report.errors.extend(found.feed_errors)
    if found.feeds_ok == 0:
        report.status = "failed"
    for future in chain:
        counts = result_or_none(future)
        if counts is None:
            report.status = "failed"
            report.errors.append(f"batch failed: {future.state.message}")
        else:
            report.counts.add(counts)


def _closer(status: str) -> Any:
    """A flow-state hook that closes this flow run's ``running`` rows with ``status``. Prefect
    calls it outside the flow's body, so it is an entry point: it builds its own ``Settings()``
    (an allowed place, see tests/test_layout.py)."""

    def close(_flow: Any, run: FlowRun, state: State[Any]) -> None:
        error = f"flow run {status}: {state.message}"
        try:
            with transaction(Settings().database_url) as session:
                closed = runs.abandon_runs(session, str(run.id), status, error)
        except Exception:  # the database may be why the run ended: log, never mask the state
            logging.getLogger("newsflow").exception("could not close the runs of %s", run.id)
            return
        logging.getLogger("newsflow").warning(
            "flow run %s %s: closed %d run(s)", run.id, status, closed
        )

    return close


def submit_work(
    settings: Settings,
    source: SourceConfig,
    run_id: int,
    run_key: str,
    discovery: steps.Discovery | None,
) -> list[PrefectFuture[RunCounts]]:
    """Submit the source's page batches, then its re-check batches, each after the previous."""
    size = settings.batch_size
    work: list[tuple[Any, list[Any]]] = []
    if discovery is not None:
        work += [(steps.process_batch, b) for b in batches(discovery.items, size)]
        work += [(steps.recheck_batch, b) for b in batches(discovery.rechecks, size)]
    chain: list[PrefectFuture[RunCounts]] = []
    for step, batch in work:
        after = [allow_failure(chain[-1])] if chain else []
        chain.append(step.submit(settings, source, run_id, run_key, batch, wait_for=after))
    return chain


@flow(
    name="ingest-news",
    task_runner=ThreadPoolTaskRunner(max_workers=8),  # type: ignore[arg-type]
    log_prints=False,
    on_failure=[_closer("failed"), runtime.release_run_hook],
    on_crashed=[_closer("crashed"), runtime.release_run_hook],
    on_cancellation=[_closer("cancelled"), runtime.release_run_hook],
)
def ingest_news(
    source_names: list[str] | None = None, sources_path: str | None = None
) -> list[SourceReport]:
    """Ingest the named (or all enabled) sources once: discover, fetch, extract, dedup, store.

    Sources run concurrently; the batches of one source run one after another (politeness).
    """
    started = time.monotonic()
    settings = Settings()
    sources = resolve_sources(settings, source_names, sources_path)
    if sources:
        steps.start_extraction_workers(settings)
    ensure_schema(settings.database_url)
    run_key = flow_run.get_id() or uuid.uuid4().hex  # the hosts' state is shared by the whole run
    with runtime.run_hosts(run_key):  # released however the run ends
        run_ids = {s.name: steps.start_run(settings, s.name, flow_run.get_id()) for s in sources}
        discoveries = {
            s.name: steps.discover_source.submit(settings, s, run_ids[s.name], run_key)
            for s in sources
        }
        found: dict[str, steps.Discovery | None] = {}
        chains: dict[str, list[PrefectFuture[RunCounts]]] = {}
        for source in sources:
            found[source.name] = result_or_none(discoveries[source.name])
            chains[source.name] = submit_work(
                settings, source, run_ids[source.name], run_key, found[source.name]
            )
        reports = []
        for source in sources:
            report = SourceReport(source.name)
            summarize(report, found[source.name], chains[source.name])
            discovery = found[source.name]
            read = discovery.feed_states if discovery and report.status == "completed" else []
            steps.finish_run(
                settings,
                run_ids[source.name],
                report.counts,
                report.status,
                "; ".join(report.errors) or None,
                read,
            )
            reports.append(report)
    steps.prune_raw_html(settings)
    return _conclude(settings, reports, run_ids, time.monotonic() - started)


def _conclude(
    settings: Settings, reports: list[SourceReport], run_ids: dict[str, int], seconds: float
) -> list[SourceReport]:
    """Publish the run's summary artifact; the run fails when at least ``fail_share`` of its
    sources failed (its reports are still the state's data)."""
    with snapshot(settings.database_url) as session:
        failures = runs.failures_by_reason(session, list(run_ids.values()))
    by_source = {name: failures.get(run_id, {}) for name, run_id in run_ids.items()}
    create_markdown_artifact(
        markdown_summary(reports, by_source, seconds),
        key="ingest-summary",
        description="newsflow ingest: per-source counts and failures by reason",
    )
    failed = sum(r.status == "failed" for r in reports)
    get_run_logger().info("ingest finished: %d of %d source(s) failed", failed, len(reports))
    if reports and failed / len(reports) >= settings.fail_share:
        # A flow that returns a State ends in it: Failed, with the reports as its data.
        state: State[Any] = Failed(
            message=f"{failed} of {len(reports)} source(s) failed", data=reports
        )
        return cast(list[SourceReport], state)
    return reports
