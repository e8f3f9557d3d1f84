"""The ``backfill-news`` flow: history from WARC archives (no network) or from a site's sitemap
(index walked, pages fetched politely), through the same extraction, dedup and storage as live
runs. Recorded in ``ingest_runs`` like a live run; a re-run skips what is stored."""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows import progress, runtime, steps
from flows.ingest import summarize
from flows.pipeline import BatchOutcome, Pipeline, cut
from flows.runner import Handle, PrefectRunner, Runner
from flows.settings import Settings
from flows.summary import SourceReport
from storage import articles, feeds
from storage.engine import snapshot, transaction
from storage.migrate import ensure_schema
from tasks.discover.discover import BACKFILL_DOCUMENTS
from tasks.discover.warc import WarcEntry, WarcScan, as_items, read_entries, scan_warc
from tasks.records import FetchedPage, Reason, RunCounts
from tasks.sources import SourceConfig, load_sources


def backfill_source(
    settings: Settings, name: str | None, sources_path: str | None, sitemap: str | None
) -> SourceConfig:
    """The configured source ``name`` (its extraction options, language, headers, proxy, URL and
    title filters, but not its ``max_age_days``), else a bare one named ``name`` (default
    ``backfill``); ``sitemap`` becomes its document."""
    path = Path(sources_path) if sources_path else settings.sources
    configured = {s.name: s for s in load_sources(path)} if name and path.exists() else {}
    source = configured.get(name or "") or SourceConfig.model_construct(name=name or "backfill")
    source = source.model_copy(update={"max_age_days": None})  # history is what a backfill is for
    if sitemap is not None:
        source = source.model_copy(update={"feeds": [], "urls": [], "sitemaps": [sitemap]})
    return source


@task(name="scan-warcs", cache_policy=NO_CACHE)
def scan_warcs(
    settings: Settings, source: SourceConfig, run_id: int, paths: list[str]
) -> steps.Discovery:
    """List the archives' HTML responses (first copy of a URL wins), minus those stored."""
    entries: dict[str, WarcEntry] = {}
    scan = WarcScan()
    for path in paths:  # a damaged archive costs its damaged stretches, not the others
        scan_warc(path, scan)
    for entry in scan.entries:
        if source.wants(entry.url):
            entries.setdefault(entry.canonical_url, entry)
    with transaction(settings.database_url) as session:
        feeds.record_fetches(session, run_id, scan.problems)
    with snapshot(settings.database_url) as session:
        known = articles.known_urls(session, list(entries))
    todo = [e for url, e in entries.items() if url not in known]
    unreadable = {p.url for p in scan.problems if p.reason == Reason.WARC_ERROR}
    found = steps.Discovery(source.name, run_id, feeds_ok=len(set(paths) - unreadable))
    found.feed_errors = [f"{p.url}: {p.reason} ({p.detail})" for p in scan.problems]
    found.counts.feed_items, found.counts.already_stored = len(entries), len(entries) - len(todo)
    found.warc = todo
    progress.discovered(source.name, len(todo))
    return found


@task(name="warc-batch", cache_policy=NO_CACHE)
def warc_batch(
    settings: Settings, source: SourceConfig, run_id: int, entries: list[WarcEntry]
) -> RunCounts:
    """Read a batch of archived pages, extract, dedup and store them in one transaction."""
    outcomes = read_entries(entries, settings.max_page_bytes)
    fetched = [FetchedPage(i, o) for i, o in zip(as_items(entries), outcomes, strict=True)]
    extracted = steps.extract_inline(settings, source, fetched)
    counts = steps.store_fetched(settings, source, run_id, extracted)
    progress.advanced(source.name, len(entries))
    return counts


@task(name="discover-sitemap", cache_policy=NO_CACHE)
def discover_sitemap(
    settings: Settings, source: SourceConfig, run_id: int, run_key: str
) -> steps.Discovery:
    """Walk the sitemap (index) unconditionally, then drop the URLs already stored."""
    read = steps.discover_items(
        settings,
        source,
        run_id,
        run_key,
        settings.backfill_max_items,
        conditional=False,
        max_documents=BACKFILL_DOCUMENTS,
    )
    items = read.items
    with snapshot(settings.database_url) as session:
        known = articles.known_urls(session, [i.canonical_url for i in items])
    found = steps.Discovery(source.name, run_id, feeds_ok=read.feeds_ok, feed_errors=read.errors)
    found.items = [i for i in items if i.canonical_url not in known]
    found.counts.feed_items, found.counts.already_stored = len(items), len(items) - len(found.items)
    progress.discovered(source.name, len(found.items))
    return found


def _warc_chain(
    runner: Runner,
    settings: Settings,
    source: SourceConfig,
    run_id: int,
    found: steps.Discovery | None,
) -> list[Handle[RunCounts]]:
    chain: list[Handle[RunCounts]] = []
    for batch in cut(found.warc if found else [], settings.batch_size):
        chain.append(
            runner.submit(
                warc_batch, settings, source, run_id, batch, after=chain[-1] if chain else None
            )
        )
    return chain


@flow(
    name="backfill-news",
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
    log_prints=False,
    on_failure=[runtime.release_run_hook],
    on_crashed=[runtime.release_run_hook],
    on_cancellation=[runtime.release_run_hook],
)
def backfill_news(
    warcs: list[str] | None = None,
    sitemap: str | None = None,
    source_name: str | None = None,
    sources_path: str | None = None,
) -> SourceReport:
    """Backfill one source from WARC files (batches one after another) or from a sitemap (its
    batches pipelined as in a live run)."""
    if bool(warcs) == (sitemap is not None):
        raise ValueError("give WARC files or a sitemap URL, not both or neither")
    settings = Settings()
    ensure_schema(settings.database_url)
    source = backfill_source(settings, source_name, sources_path, sitemap)
    run_id = steps.start_run(settings, source.name, flow_run.get_id())
    run_key = flow_run.get_id() or uuid.uuid4().hex
    runner = PrefectRunner()
    with runtime.run_hosts(run_key, settings):  # released however the run ends
        found: steps.Discovery | None
        outcomes: list[BatchOutcome]
        if warcs:
            found = runner.submit(scan_warcs, settings, source, run_id, list(warcs)).outcome()[0]
            outcomes = [h.outcome() for h in _warc_chain(runner, settings, source, run_id, found)]
        else:
            pipeline = Pipeline(runner, settings, run_key)
            walked = runner.submit(discover_sitemap, settings, source, run_id, run_key)
            pipeline.discovered(source, run_id, walked)
            pipeline.run()
            found, outcomes = pipeline.found[source.name], pipeline.outcomes[source.name]
        report = SourceReport(source.name)
        summarize(report, found, outcomes)
        error = "; ".join(report.errors) or None
        steps.finish_run(settings, run_id, report.counts, report.status, error)
    return report
