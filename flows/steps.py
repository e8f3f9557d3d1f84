"""Prefect tasks: thin wrappers at batch boundaries over plain functions of ``tasks/`` and
``storage/``. Arguments and results are plain values; nothing here carries HTML out of a task."""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from flows import progress, robotscache
from flows.runtime import (
    document_parser,
    extraction_pool,
    parked,
    process_is_dead,
    registry_for,
    unpark,
)
from flows.settings import Settings
from storage import articles, feeds, rawpages, revisions, runs
from storage import boilerplate as boilerplate_store
from storage.engine import snapshot, transaction
from tasks.dedup import boilerplate
from tasks.dedup.dedup import best_match
from tasks.discover.discover import (
    MAX_DOCUMENTS,
    FeedsRead,
    conditional_headers,
    conditional_headers_for,
)
from tasks.discover.fallbacks import complete_pages
from tasks.discover.source import fetch_source_documents, read_source
from tasks.discover.warc import WarcEntry
from tasks.extract.extract import (
    PageInput,
    extract_fetched,
    page_input,
    page_result,
    page_results,
)
from tasks.extract.workers import extract_many
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.polite import OnOutcome, fetch_pages
from tasks.records import (
    ExtractedPage,
    ExtractionResult,
    FeedItem,
    FeedState,
    FetchedPage,
    FetchOutcome,
    PageResult,
    Recheck,
    RunCounts,
)
from tasks.sources import SourceConfig

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


def extract_pages(pages: list[PageInput], settings: Settings) -> list[ExtractionResult]:
    """Extract in the killable pool: a slow, oversized or crashing page is a result with a reason
    (``extract_timeout``, ``html_too_large``, ``extract_crashed``), never a failed batch."""
    limits = settings.pool_limits
    return extract_many(pages, extraction_pool(settings), limits)


def _learned(settings: Settings, source: str) -> frozenset[str]:
    """The source's learned boilerplate line keys (none when learning is off)."""
    if not settings.boilerplate:
        return frozenset()
    with snapshot(settings.database_url) as session:
        return boilerplate_store.learned_keys(session, source)


def _learn(settings: Settings, session: Session, source: str, pages: list[PageResult]) -> None:
    """In the batch's transaction, after its pages are stored: count their lines and learn the
    source's new boilerplate, in a SAVEPOINT. A failure here rolls back only the learning and is
    logged, never the batch's failure (this batch's lines then go uncounted; later batches are
    counted as usual)."""
    if not settings.boilerplate:
        return
    rule = settings.boilerplate_rule()
    decide = functools.partial(boilerplate.recurring, rule=rule)
    try:
        with session.begin_nested():
            new = boilerplate_store.learn(
                session, source, boilerplate.observe(pages), decide, rule.window
            )
    except Exception:
        log.exception("%s: could not learn boilerplate from a stored batch", source)
        return
    if new:
        log.info("%s: learned %d boilerplate line(s)", source, new)


@task(name="start-extraction-workers", cache_policy=NO_CACHE)
def start_extraction_workers(settings: Settings) -> int:
    """Start the extraction workers in the background (they import and warm up while the runs
    open and the feeds are read), so the first fetched pages do not wait for them; how many."""
    pool = extraction_pool(settings)
    if pool is None:
        return 0
    pool.prewarm()
    return pool.size


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(settings: Settings, source: str, flow_run_id: str | None) -> int:
    """Close the source's runs whose process died, then open this run's row."""
    stale = timedelta(minutes=settings.stale_run_minutes)
    with transaction(settings.database_url) as session:
        closed = runs.close_dead_runs(
            session, source, functools.partial(process_is_dead, stale_after=stale)
        )
    if closed:
        log.warning("%s: marked %d run(s) whose process was gone as crashed", source, closed)
    with transaction(settings.database_url) as session:
        return runs.start_run(session, source, flow_run_id, socket.gethostname(), os.getpid())


def _with(extra: dict[str, str], headers: dict[str, str]) -> dict[str, str]:
    return {**extra, **headers}


def discover_items(
    settings: Settings,
    source: SourceConfig,
    run_id: int,
    run_key: str,
    limit: int,
    conditional: bool = True,
    max_documents: int = MAX_DOCUMENTS,
) -> FeedsRead:
    """Fetch and read the source's documents (child sitemaps fetched through the same polite
    layer), record the fetches and the items in one transaction; what was read (its ``states``
    are not saved here: ``finish_run`` saves them when the run completes)."""
    config = settings.source_fetch_config(source)
    urls = list(source.documents)
    states: dict[str, FeedState] = {}
    if conditional:
        with snapshot(settings.database_url) as session:
            states = feeds.feed_states(session, urls)
    now = datetime.now(UTC)
    revalidate = timedelta(hours=settings.feed_revalidate_hours)
    sent = {url: conditional_headers(states.get(url), now, revalidate) for url in urls}
    hosts = registry_for(run_key, config.host_max_failures)
    fetched = fetch_source_documents(source, config, hosts, sent)
    read = read_source(
        source,
        fetched,
        limit,
        config,
        hosts,
        states,
        sent,
        max_documents=max_documents,
        parser=document_parser(settings),
    )
    # The documents' new state is saved only when the run completes (finish_run): a run killed
    # or failed before its pages are stored must not make the next run skip them as unchanged.
    with transaction(settings.database_url) as session:
        feeds.record_fetches(session, run_id, read.outcomes)
        feeds.record_feed_items(session, run_id, read.items)
    if read.skipped:  # the source's own filters (counted per document in fetches.detail)
        left_out = ", ".join(f"{reason} {n}" for reason, n in sorted(read.skipped.items()))
        log.info("%s: the source's filters left out %s", source.name, left_out)
    return read


@task(name="discover-source", cache_policy=NO_CACHE)
def discover_source(
    settings: Settings, source: SourceConfig, run_id: int, run_key: str
) -> Discovery:
    """Fetch the source's feeds, sitemaps and URL lists (conditional GET), read what changed,
    then drop URLs already stored (before any page fetch)."""
    now = datetime.now(UTC)
    limit = source.max_items or settings.max_items_per_source
    read = discover_items(settings, source, run_id, run_key, limit)
    items = read.items
    result = Discovery(source.name, run_id, feeds_ok=read.feeds_ok, feed_errors=read.errors)
    result.feed_states = list(read.states)
    with snapshot(settings.database_url) as session:
        known = articles.known_urls(session, [i.canonical_url for i in items])
        result.rechecks = revisions.articles_to_recheck(
            session,
            source.name,
            now - timedelta(hours=settings.revision_window_hours),
            now - timedelta(hours=settings.revision_interval_hours),
            settings.max_rechecks_per_source,
        )
    result.items = [item for item in items if item.canonical_url not in known]
    result.counts.feed_items = len(items)
    result.counts.already_stored = len(items) - len(result.items)
    progress.discovered(source.name, len(result.items) + len(result.rechecks))
    return result


def extract_inline(
    settings: Settings, source: SourceConfig, fetched: Sequence[FetchedPage]
) -> list[ExtractedPage]:
    """Extract fetched pages in the pool (inline without one; one list, after the fetches), with
    the source's options and learned boilerplate."""
    learned, options = _learned(settings, source.name), source.extract.options()
    extract = functools.partial(extract_pages, settings=settings)
    return extract_fetched(fetched, extract, learned, options)


def near_dup(settings: Settings) -> articles.NearDup:
    return articles.NearDup(
        matcher=functools.partial(best_match, threshold=settings.near_dup_threshold),
        window=timedelta(days=settings.near_dup_window_days),
    )


def store_batch(
    settings: Settings,
    source: SourceConfig,
    run_id: int,
    pages: list[PageResult],
    extra: Sequence[FetchOutcome] = (),
) -> RunCounts:
    """Store one batch in ONE transaction: its articles, URLs, authors, tags, fetch rows (``extra``:
    robots.txt fetches), raw pages, feed-item links, near-duplicate links and the boilerplate
    window (in a SAVEPOINT: a learning failure is logged and rolls back only the learning)."""
    with transaction(settings.database_url) as session:
        counts = articles.store_pages(session, run_id, pages, extra=extra, near=near_dup(settings))
        _learn(settings, session, source.name, pages)
    return counts


def store_fetched(
    settings: Settings,
    source: SourceConfig,
    run_id: int,
    extracted: Sequence[ExtractedPage],
    extra: Sequence[FetchOutcome] = (),
) -> RunCounts:
    """Fill title, date and authors of extracted pages from the feed where the page has none,
    dedup and store them in one transaction."""
    stored = page_results(extracted, keep_raw=settings.keep_raw_html)
    counts = store_batch(settings, source, run_id, complete_pages(stored, source.language), extra)
    counts.fetched = sum(p.page.extractable for p in extracted)
    return counts


def fetch_politely(
    settings: Settings,
    config: FetchConfig,
    hosts: HostRegistry,
    urls: Sequence[str],
    headers: Mapping[str, Mapping[str, str]] | None = None,
    side: list[FetchOutcome] | None = None,
    on_outcome: OnOutcome | None = None,
) -> list[FetchOutcome]:
    """``fetch_pages`` with the hosts' robots.txt taken from the cross-run cache first and the
    answers fetched saved to it after."""
    if config.robots:
        robotscache.prime_from_cache(settings.database_url, hosts, urls)
    outcomes = fetch_pages(
        urls, config, hosts=hosts, headers=headers, side=side, on_outcome=on_outcome
    )
    robotscache.save_to_cache(settings.database_url, hosts)
    return outcomes


@task(name="fetch-batch", cache_policy=NO_CACHE)
def fetch_batch(settings: Settings, source: SourceConfig, run_key: str, ticket: int) -> int:
    """Fetch the pages of the run's batch ``ticket`` (``flows/inflight.py``) politely; each
    fetched page goes to the batch at once (extracted as soon as the batch is open, so fetching
    overlaps extraction, as pages of other batches do). How many pages were fetched."""
    flight = parked(run_key, ticket)
    config = settings.source_fetch_config(source)
    hosts = registry_for(run_key, config.host_max_failures)
    urls = [i.url for i in flight.items]
    headers = {url: dict(source.headers) for url in urls} if source.headers else None
    robots: list[FetchOutcome] = []
    outcomes = fetch_politely(
        settings, config, hosts, urls, headers=headers, side=robots, on_outcome=flight.arrived
    )
    flight.fetched(robots)
    return sum(o.ok for o in outcomes)


def open_batch(settings: Settings, source: SourceConfig, run_key: str, ticket: int) -> None:
    """The run's batch ``ticket`` may be extracted (its source's previous batch is stored): its
    pages go to the pool with the source's options and boilerplate learned so far (inline
    without a pool)."""
    learned, options = _learned(settings, source.name), source.extract.options()
    pool = extraction_pool(settings)
    batch = pool.batch() if pool is not None else 0  # its pages go before later batches'

    def submit(outcome: FetchOutcome) -> Future[ExtractionResult]:
        page = page_input(outcome, learned, options)
        if pool is not None:
            return pool.submit(page, batch)
        done: Future[ExtractionResult] = Future()
        done.set_result(extract_many([page], None, settings.pool_limits)[0])
        return done

    parked(run_key, ticket).open(submit)


@task(name="store-batch", cache_policy=NO_CACHE)
def store_extracted(
    settings: Settings, source: SourceConfig, run_id: int, run_key: str, ticket: int
) -> RunCounts:
    """Store the run's fetched and extracted batch ``ticket`` in one transaction."""
    flight = unpark(run_key, ticket)
    if flight is None:
        raise LookupError(f"batch {ticket} of run {run_key} is not kept (released)")
    pages = flight.pages()
    counts = store_fetched(settings, source, run_id, pages, flight.robots)
    progress.advanced(source.name, len(pages))
    return counts


@task(name="recheck-batch", cache_policy=NO_CACHE)
def recheck_batch(
    settings: Settings, source: SourceConfig, run_id: int, run_key: str, rechecks: list[Recheck]
) -> RunCounts:
    """Re-fetch recent articles conditionally; a changed text becomes a revision."""
    config = settings.source_fetch_config(source)
    sent = {r.url: _with(source.headers, conditional_headers_for(r)) for r in rechecks}
    hosts = registry_for(run_key, config.host_max_failures)
    outcomes = fetch_politely(settings, config, hosts, [r.url for r in rechecks], headers=sent)
    fetched = [
        FetchedPage(FeedItem(url=r.url, canonical_url=r.url), o)
        for r, o in zip(rechecks, outcomes, strict=True)
    ]
    extracted = extract_inline(settings, source, fetched)  # as at first store: no false revision
    rechecked = [
        (r, page_result(page, keep_raw=settings.keep_raw_html))
        for r, page in zip(rechecks, extracted, strict=True)
    ]
    with transaction(settings.database_url) as session:
        counts = revisions.apply_rechecks(session, run_id, rechecked)
    progress.advanced(source.name, len(rechecks))
    return counts


@task(name="prune-raw-html", cache_policy=NO_CACHE)
def prune_raw_html(settings: Settings) -> int:
    """Delete kept raw HTML older than ``raw_html_retention_days`` (0: keep it forever). A
    failure is logged, never the run's failure."""
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
    settings: Settings,
    run_id: int,
    counts: RunCounts,
    status: str,
    error: str | None,
    feed_states: list[FeedState] | None = None,
) -> None:
    with transaction(settings.database_url) as session:
        runs.finish_run(session, run_id, counts, status, error, feed_states or [])
