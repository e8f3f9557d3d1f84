"""Prefect tasks: thin wrappers at batch boundaries over plain functions of ``tasks/`` and
``storage/``. Arguments and results are plain values; nothing here carries HTML out of a task."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.settings import Settings
from storage import boilerplate as boilerplate_store
from storage import rawpages, repository
from tasks import boilerplate
from tasks.dedup import best_match
from tasks.discover import (
    MAX_DOCUMENTS,
    FeedsRead,
    conditional_headers,
    conditional_headers_for,
    fetch_documents,
    read_feeds,
)
from tasks.extract import ExtractionResult, PageInput, page_results, pages_to_extract
from tasks.fallbacks import complete_pages
from tasks.fetch import fetch_pages
from tasks.hosts import registry_for
from tasks.isolate import IsolatedParser
from tasks.records import FeedItem, FeedState, FetchOutcome, PageResult, Recheck, RunCounts
from tasks.sources import SourceConfig
from tasks.warc import WarcEntry
from tasks.workers import ExtractionPool, extract_many

log = logging.getLogger("newsflow")


@dataclass(slots=True)
class Discovery:
    """What discovering a source found: URLs still to fetch and the counts so far."""

    source: str
    run_id: int
    items: list[FeedItem] = field(default_factory=list)
    rechecks: list[Recheck] = field(default_factory=list)
    counts: RunCounts = field(default_factory=RunCounts)
    feeds_ok: int = 0
    feed_errors: list[str] = field(default_factory=list)
    warc: list[WarcEntry] = field(default_factory=list)  # archived pages to store (backfill)
    feed_states: list[FeedState] = field(default_factory=list)  # saved when the run completes


_pool: ExtractionPool | None = None
_pool_lock = threading.Lock()


def extraction_pool(settings: Settings) -> ExtractionPool | None:
    """This process's killable extraction pool, created on first use (``extract_workers=0``:
    extract inline, without a deadline). A change of the workers or limits replaces it."""
    global _pool
    workers, limits = settings.extract_workers, settings.pool_limits
    if workers <= 0:
        return None
    with _pool_lock:
        if _pool is not None and (_pool.size, _pool.limits) != (workers, limits):
            _pool.shutdown()
            _pool = None
        if _pool is None:
            _pool = ExtractionPool(workers, limits)
            atexit.register(shutdown_pool)
        return _pool


_parser: IsolatedParser | None = None


def document_parser(settings: Settings) -> IsolatedParser | None:
    """This process's killable document parser, created on first use; none when extraction runs
    inline (``extract_workers=0``, for debugging), so documents are parsed inline too."""
    global _parser
    if settings.extract_workers <= 0:
        return None
    with _pool_lock:
        if _parser is None:
            _parser = IsolatedParser()
            atexit.register(_parser.close)
        return _parser


def shutdown_pool() -> None:
    global _pool, _parser
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown()
            _pool = None
        if _parser is not None:  # the document parser's helper process goes with the pool
            _parser.close()
            _parser = None


def extract_pages(pages: list[PageInput], settings: Settings) -> list[ExtractionResult]:
    """Extract in the killable pool: a slow, oversized or crashing page is a result with a reason
    (``extract_timeout``, ``html_too_large``, ``extract_crashed``), never a failed batch."""
    limits = settings.pool_limits
    return extract_many(pages, extraction_pool(settings), limits)


def process_is_dead(
    host: str | None,
    pid: int | None,
    heartbeat: datetime | None,
    started: datetime | None = None,
    *,
    stale_after: timedelta,
) -> bool:
    """A run's process is gone when it ran on this machine and its pid no longer exists, or now
    belongs to a process that started after the run did (the pid was reused, e.g. by this very
    process in a restarted container), or when the run has not shown life (a stored batch) for
    ``stale_after``. The start times compare wall clocks: a forward clock step of more than
    PID_CLOCK_SLACK during a run can make a live run look reused (it then finishes normally)."""
    if host == socket.gethostname() and pid is not None:
        ours = pid == os.getpid()
        if not ours:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass  # alive, someone else's: its start time still tells
        born = process_started_at(pid)
        if born is not None and started is not None and born > started + PID_CLOCK_SLACK:
            return True
        if not ours:
            return False  # alive, and nothing says it is another process
    return heartbeat is None or datetime.now(UTC) - heartbeat > stale_after


PID_CLOCK_SLACK = timedelta(seconds=5)  # the boot time is whole seconds; clocks get adjusted


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` started (Linux ``/proc``: its start in clock ticks after boot), or
    None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = int(fields[19])  # field 22, starttime (fields[0] is field 3, the state)
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)


def _learned(settings: Settings, source: str) -> frozenset[str]:
    """The source's learned boilerplate line keys (none when learning is off)."""
    if not settings.boilerplate:
        return frozenset()
    return boilerplate_store.learned_keys(settings.database_url, source)


def _learn(settings: Settings, source: str, pages: list[PageResult]) -> None:
    """After a batch is stored: count its pages' lines and learn the source's new boilerplate.
    The batch is stored already, so a failure here is logged, never the batch's failure (this
    batch's lines then go uncounted; later batches are counted as usual)."""
    if not settings.boilerplate:
        return
    rule = settings.boilerplate_rule()
    decide = functools.partial(boilerplate.recurring, rule=rule)
    try:
        new = boilerplate_store.learn(
            settings.database_url, source, boilerplate.observe(pages), decide, rule.window
        )
    except Exception:
        log.exception("%s: could not learn boilerplate from a stored batch", source)
        return
    if new:
        log.info("%s: learned %d boilerplate line(s)", source, new)


@task(name="start-extraction-workers", cache_policy=NO_CACHE)
def start_extraction_workers() -> int:
    """Start the extraction workers in the background (they import and warm up while the runs
    open and the feeds are read), so the first fetched pages do not wait for them; how many."""
    pool = extraction_pool(Settings())
    if pool is None:
        return 0
    pool.prewarm()
    return pool.size


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(source: str, flow_run_id: str | None) -> int:
    """Close the source's runs whose process died, then open this run's row."""
    settings = Settings()
    stale = timedelta(minutes=settings.stale_run_minutes)
    closed = repository.close_dead_runs(
        settings.database_url, source, functools.partial(process_is_dead, stale_after=stale)
    )
    if closed:
        log.warning("%s: marked %d run(s) whose process was gone as crashed", source, closed)
    return repository.start_run(
        settings.database_url, source, flow_run_id, socket.gethostname(), os.getpid()
    )


def _with(extra: dict[str, str], headers: dict[str, str]) -> dict[str, str]:
    return {**extra, **headers}


def discover_items(
    source: SourceConfig,
    run_id: int,
    run_key: str,
    limit: int,
    conditional: bool = True,
    max_documents: int = MAX_DOCUMENTS,
) -> FeedsRead:
    """Fetch and read the source's documents (child sitemaps fetched through the same polite
    layer), record the fetches and the items; what was read (its ``states`` are not saved
    here: ``finish_run`` saves them when the run completes)."""
    settings = Settings()
    config = settings.fetch_config(source.delay)
    urls = list(source.documents)
    states = repository.feed_states(settings.database_url, urls) if conditional else {}
    now = datetime.now(UTC)
    revalidate = timedelta(hours=settings.feed_revalidate_hours)
    sent = {url: conditional_headers(states.get(url), now, revalidate) for url in urls}
    hosts = registry_for(run_key, config.host_max_failures)
    fetched = fetch_documents(
        urls, config, hosts, {u: _with(source.headers, h) for u, h in sent.items()}
    )
    feeds = read_feeds(
        fetched,
        limit,
        states,
        sent,
        kinds=source.documents,
        fetch=lambda children: fetch_documents(
            children, config, hosts, {u: dict(source.headers) for u in children}
        ),
        accept=source.wants,
        max_documents=max_documents,
        max_bytes=config.max_feed_bytes,
        parser=document_parser(settings),
    )
    # The documents' new state is saved only when the run completes (finish_run): a run killed
    # or failed before its pages are stored must not make the next run skip them as unchanged.
    repository.record_fetches(settings.database_url, run_id, feeds.outcomes)
    repository.record_feed_items(settings.database_url, run_id, feeds.items)
    return feeds


@task(name="discover-source", cache_policy=NO_CACHE)
def discover_source(source: SourceConfig, run_id: int, run_key: str) -> Discovery:
    """Fetch the source's feeds, sitemaps and URL lists (conditional GET), read what changed,
    then drop URLs already stored (before any page fetch)."""
    settings = Settings()
    now = datetime.now(UTC)
    limit = source.max_items or settings.max_items_per_source
    feeds = discover_items(source, run_id, run_key, limit)
    items = feeds.items
    known = repository.known_urls(settings.database_url, [i.canonical_url for i in items])
    result = Discovery(source.name, run_id, feeds_ok=feeds.feeds_ok, feed_errors=feeds.errors)
    result.feed_states = list(feeds.states)
    result.items = [item for item in items if item.canonical_url not in known]
    result.counts.feed_items = len(items)
    result.counts.already_stored = len(items) - len(result.items)
    result.rechecks = repository.articles_to_recheck(
        settings.database_url,
        source.name,
        now - timedelta(hours=settings.revision_window_hours),
        now - timedelta(hours=settings.revision_interval_hours),
        settings.max_rechecks_per_source,
    )
    progress.discovered(source.name, len(result.items) + len(result.rechecks))
    return result


def store_fetched(
    source: SourceConfig,
    run_id: int,
    items: Sequence[FeedItem],
    fetched: list[FetchOutcome],
    extra: Sequence[FetchOutcome] = (),
    extracted: list[ExtractionResult] | None = None,
) -> RunCounts:
    """Extract fetched pages in the process pool (with the source's options) unless ``extracted``
    already holds their results (in order), fill title, date and authors from the feed where the
    page has none, dedup and store in one transaction."""
    settings = Settings()
    if extracted is None:
        options = source.extract.options()
        learned = _learned(settings, source.name)
        inputs = [replace(p, options=options) for p in pages_to_extract(fetched, learned)]
        extracted = extract_pages(inputs, settings)
    pages = page_results(items, fetched, extracted, keep_raw=settings.keep_raw_html)
    pages = complete_pages(pages, source.language)
    near = repository.NearDup(
        matcher=functools.partial(best_match, threshold=settings.near_dup_threshold),
        window=timedelta(days=settings.near_dup_window_days),
    )
    counts = repository.store_pages(settings.database_url, run_id, pages, extra=extra, near=near)
    _learn(settings, source.name, pages)
    counts.fetched = len(extracted)
    return counts


def fetch_and_extract(
    source: SourceConfig,
    urls: list[str],
    run_key: str,
    side: list[FetchOutcome],
) -> tuple[list[FetchOutcome], list[ExtractionResult] | None]:
    """Fetch pages politely; with a pool, each fetched page goes to it at once (fetching overlaps
    extraction, as pages of other sources do). The fetches, and the extractions of the fetched
    pages in order (``None`` without a pool: ``store_fetched`` extracts inline)."""
    settings = Settings()
    config = settings.fetch_config(source.delay)
    hosts = registry_for(run_key, config.host_max_failures)
    headers = {url: dict(source.headers) for url in urls} if source.headers else None
    pool = extraction_pool(settings)
    if pool is None:
        return fetch_pages(urls, config, hosts=hosts, headers=headers, side=side), None
    learned, options = _learned(settings, source.name), source.extract.options()
    pending: dict[int, Future[ExtractionResult]] = {}
    batch = pool.batch()  # its pages go before those of batches started later

    def submit(index: int, outcome: FetchOutcome) -> None:
        for page in pages_to_extract([outcome], learned):
            pending[index] = pool.submit(replace(page, options=options), batch)

    fetched = fetch_pages(urls, config, hosts=hosts, headers=headers, side=side, on_outcome=submit)
    return fetched, [pending[index].result() for index in sorted(pending)]


@task(name="process-batch", cache_policy=NO_CACHE)
def process_batch(
    source: SourceConfig, run_id: int, run_key: str, items: list[FeedItem]
) -> RunCounts:
    """Fetch a batch of pages politely, extract them in a process pool as they arrive, store in
    one transaction."""
    robots: list[FetchOutcome] = []
    fetched, extracted = fetch_and_extract(source, [i.url for i in items], run_key, robots)
    counts = store_fetched(source, run_id, items, fetched, robots, extracted)
    progress.advanced(source.name, len(items))
    return counts


@task(name="recheck-batch", cache_policy=NO_CACHE)
def recheck_batch(
    source: SourceConfig, run_id: int, run_key: str, rechecks: list[Recheck]
) -> RunCounts:
    """Re-fetch recent articles conditionally; a changed text becomes a revision."""
    settings = Settings()
    config = settings.fetch_config(source.delay)
    sent = {r.url: _with(source.headers, conditional_headers_for(r)) for r in rechecks}
    hosts = registry_for(run_key, config.host_max_failures)
    fetched = fetch_pages([r.url for r in rechecks], config, hosts=hosts, headers=sent)
    learned, options = _learned(settings, source.name), source.extract.options()
    inputs = [replace(p, options=options) for p in pages_to_extract(fetched, learned)]
    extracted = extract_pages(inputs, settings)  # as at first store: no false revision
    items = [FeedItem(url=r.url, canonical_url=r.url) for r in rechecks]
    pages = page_results(items, fetched, extracted, keep_raw=settings.keep_raw_html)
    counts = repository.apply_rechecks(settings.database_url, run_id, rechecks, pages)
    progress.advanced(source.name, len(rechecks))
    return counts


@task(name="prune-raw-html", cache_policy=NO_CACHE)
def prune_raw_html() -> int:
    """Delete kept raw HTML older than ``raw_html_retention_days`` (0: keep it forever). A
    failure is logged, never the run's failure."""
    settings = Settings()
    if settings.raw_html_retention_days <= 0:
        return 0
    before = datetime.now(UTC) - timedelta(days=settings.raw_html_retention_days)
    try:
        return rawpages.prune_raw_pages(settings.database_url, before)
    except Exception:
        log.exception("could not prune raw_pages older than %s", before)
        return 0


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(
    run_id: int,
    counts: RunCounts,
    status: str,
    error: str | None,
    feed_states: list[FeedState] | None = None,
) -> None:
    repository.finish_run(Settings().database_url, run_id, counts, status, error, feed_states or [])
