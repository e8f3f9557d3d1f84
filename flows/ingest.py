"""The ``ingest-news`` flow: compose the steps for each selected source."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from prefect import State, flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows import runtime, steps
from flows.pipeline import BatchOutcome, Pipeline
from flows.runner import PrefectRunner, Runner
from flows.settings import Settings
from flows.summary import Outcome, SourceReport
from storage import health, runs
from storage.engine import snapshot, transaction
from storage.migrate import ensure_schema, has_schema
from tasks.sources import SourceConfig, SourcesError, load_sources, parse_sources, select_sources


def resolve_sources(
    settings: Settings,
    names: list[str] | None,
    sources_path: str | None,
    entries: list[dict[str, Any]] | None = None,
) -> list[SourceConfig]:
    """The sources to run: from ``entries`` (a deployment carries its sources), else from the
    sources file; an unknown name or a missing file says which file was read."""
    if entries is not None:
        return select_sources(parse_sources({"sources": entries}, "deployment parameters"), names)
    path = Path(sources_path) if sources_path else settings.sources
    try:
        return select_sources(load_sources(path), names)
    except SourcesError as exc:
        if str(path) in str(exc):
            raise
        raise SourcesError(f"{exc} (sources file {path.resolve()})") from None


def summarize(
    report: SourceReport, found: steps.Discovery | None, outcomes: list[BatchOutcome]
) -> None:
    if found is None:
        report.status = "failed"
        report.errors.append("discovery failed")
        return
    report.counts.add(found.counts)
    report.errors.extend(found.feed_errors)
    if found.feeds_ok == 0:
        report.status = "failed"
    for counts, why in outcomes:
        if counts is None:
            report.status = "failed"
            report.errors.append(f"batch failed: {why}")
        else:
            report.counts.add(counts)


def _closer(status: str) -> Any:
    """A flow-state hook that closes this flow run's ``running`` rows with ``status``; nothing
    to close (and nothing created) when the database or its tables do not exist yet. Prefect
    calls it outside the flow's body, so it is an entry point: it builds its own ``Settings()``
    (an allowed place, see tests/test_layout.py)."""

    def close(_flow: Any, run: FlowRun, state: State[Any]) -> None:
        url = Settings().database_url
        error = f"flow run {status}: {state.message}"
        try:
            if not has_schema(url):
                return
            with transaction(url) as session:
                closed = runs.abandon_runs(session, str(run.id), status, error)
        except Exception as exc:  # the database may be why the run ended: log, never mask the state
            logging.getLogger("newsflow").error("could not close the runs of %s: %s", run.id, exc)
            return
        if closed:
            logging.getLogger("newsflow").warning(
                "flow run %s %s: closed %d run(s)", run.id, status, closed
            )

    return close


def run_sources(runner: Runner, settings: Settings, sources: list[SourceConfig]) -> Outcome:
    """Ingest ``sources`` once with ``runner`` (Prefect task runs, or plain local calls).

    Sources are discovered concurrently; their batches go through ``flows/pipeline.py``.
    """
    started = time.monotonic()
    if sources:
        runner.call(steps.start_extraction_workers, settings)
    ensure_schema(settings.database_url)
    run_key = runner.flow_run_id or uuid.uuid4().hex  # the hosts' state is shared by the run
    with runtime.run_hosts(run_key, settings):  # released however the run ends
        run_ids = {
            s.name: runner.call(steps.start_run, settings, s.name, runner.flow_run_id)
            for s in sources
        }
        pipeline = Pipeline(runner, settings, run_key)
        for s in sources:
            found = runner.submit(steps.discover_source, settings, s, run_ids[s.name], run_key)
            pipeline.discovered(s, run_ids[s.name], found)
        pipeline.run()
        reports = []
        for source in sources:
            report = SourceReport(source.name)
            discovery = pipeline.found[source.name]
            summarize(report, discovery, pipeline.outcomes[source.name])
            read = discovery.feed_states if discovery and report.status == "completed" else []
            runner.call(
                steps.finish_run,
                settings,
                run_ids[source.name],
                report.counts,
                report.status,
                "; ".join(report.errors) or None,
                read,
            )
            reports.append(report)
    runner.call(steps.prune_raw_html, settings)
    with snapshot(settings.database_url) as session:
        failures = runs.failures_by_reason(session, list(run_ids.values()))
        streaks = health.empty_streaks(session, list(run_ids))
    for report in reports:
        report.failures = failures.get(run_ids[report.source], {})
        report.empty_runs = streaks.get(report.source, 0)
    return Outcome(reports, time.monotonic() - started)


def run_name() -> str:
    """A flow run's name: its source(s) and its start (UTC), e.g. ``bbc-world 2026-12-04 15:00``."""
    from prefect.runtime import flow_run

    names = flow_run.parameters.get("source_names") or ["all"]
    label = "+".join(names) if len(names) <= 3 else f"{names[0]}+{len(names) - 1} more"
    return f"{label} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"


@flow(
    name="ingest-news",
    flow_run_name=run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=8),  # type: ignore[arg-type]
    log_prints=False,
    on_failure=[_closer("failed"), runtime.release_run_hook],
    on_crashed=[_closer("crashed"), runtime.release_run_hook],
    on_cancellation=[_closer("cancelled"), runtime.release_run_hook],
)
def ingest_news(
    source_names: list[str] | None = None,
    sources_path: str | None = None,
    source_entries: list[dict[str, Any]] | None = None,
) -> list[SourceReport]:
    """Ingest the named (or all enabled) sources once: discover, fetch, extract, dedup, store.
    ``source_entries`` (sources-file entries) replace the file: what a deployment carries."""
    settings = Settings()
    sources = resolve_sources(settings, source_names, sources_path, source_entries)
    outcome = run_sources(PrefectRunner(), settings, sources)
    from flows.outcome import emit_empty_streaks, log_outcome, publish_artifacts, state_message

    log_outcome(get_run_logger(), outcome.reports)
    publish_artifacts(outcome)
    emit_empty_streaks(outcome.reports)  # what the empty-source alert watches
    return _conclude(outcome.reports, state_message(outcome.reports), settings.fail_share)


def _conclude(reports: list[SourceReport], message: str, fail_share: float) -> list[SourceReport]:
    """The run ends Failed when at least ``fail_share`` of its sources failed, else Completed;
    either way with the short ``message`` and the reports as the state's data."""
    failed = sum(r.status == "failed" for r in reports)
    # A flow that returns a State ends in it, with the reports as its data.
    if reports and failed / len(reports) >= fail_share:
        return cast(list[SourceReport], Failed(message=message, data=reports))
    return cast(list[SourceReport], Completed(message=message, data=reports))


def ingest_locally(settings: Settings, sources: list[SourceConfig]) -> list[SourceReport]:
    """The same run with no Prefect engine and no server (``newsflow ingest`` when no
    ``PREFECT_API_URL`` is set): the steps are plain calls in a thread pool, the per-source log
    lines go to the console."""
    from flows.outcome import log_outcome
    from flows.runner import LocalRunner

    with LocalRunner(max_workers=8) as runner:
        outcome = run_sources(runner, settings, sources)
    log_outcome(logging.getLogger("newsflow"), outcome.reports)
    return outcome.reports
