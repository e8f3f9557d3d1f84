"""Prefect tasks: thin wrappers at batch boundaries over plain functions of ``tasks/`` and
``storage/``. Arguments and results are plain values; nothing here carries HTML out of a task."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import socket
import threading
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.settings import Settings
from storage import repository
from tasks.dedup import best_match
from tasks.discover import conditional_headers, conditional_headers_for, read_feeds
from tasks.extract import (
    ExtractionResult,
    PageInput,
    extract_many,
    make_pool,
    page_results,
    pages_to_extract,
)
from tasks.fetch import fetch_pages
from tasks.hosts import registry_for
from tasks.records import FeedItem, FeedState, FetchOutcome, Recheck, RunCounts
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
    feed_states: list[FeedState] = field(default_factory=list)  # saved when the run completes


_pool: Executor | None = None
_pool_lock = threading.Lock()


def extraction_pool(workers: int) -> Executor | None:
    """This process's extraction pool, created on first use (``workers=0``: extract inline)."""
    global _pool
    if workers <= 0:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = make_pool(workers)
            atexit.register(shutdown_pool)
        return _pool


def shutdown_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


def _extract(pages: list[PageInput], workers: int) -> list[ExtractionResult]:
    try:
        return extract_many(pages, extraction_pool(workers))
    except (BrokenProcessPool, RuntimeError, OSError) as exc:  # a worker died or cannot start
        log.warning("extraction pool failed (%s); replacing it, extracting this batch inline", exc)
        shutdown_pool()
        return extract_many(pages, None)


def process_is_dead(
    host: str | None, pid: int | None, heartbeat: datetime | None, stale_after: timedelta
) -> bool:
    """A run's process is gone when it ran on this machine and its pid no longer exists, or when
    it has not shown life (a stored batch) for ``stale_after``."""
    if host == socket.gethostname() and pid is not None and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, someone else's
        return False
    return heartbeat is None or datetime.now(UTC) - heartbeat > stale_after


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


@task(name="discover-source", cache_policy=NO_CACHE)
def discover_source(source: SourceConfig, run_id: int, run_key: str) -> Discovery:
    """Fetch the source's feeds (conditional GET), parse what changed, then drop URLs already
    stored (before any page fetch). The feeds' new state is saved by ``finish_run``, once the
    items are stored."""
    settings = Settings()
    config = settings.fetch_config(source.delay)
    states = repository.feed_states(settings.database_url, source.feeds)
    now = datetime.now(UTC)
    revalidate = timedelta(hours=settings.feed_revalidate_hours)
    sent = {url: conditional_headers(states.get(url), now, revalidate) for url in source.feeds}
    hosts = registry_for(run_key, config.host_max_failures)
    fetched = fetch_pages(source.feeds, config, kind="feed", hosts=hosts, headers=sent)
    feeds = read_feeds(fetched, source.max_items or settings.max_items_per_source, states, sent)
    repository.record_fetches(settings.database_url, run_id, feeds.outcomes)
    known = repository.known_urls(settings.database_url, [i.canonical_url for i in feeds.items])
    result = Discovery(source.name, run_id, feeds_ok=feeds.feeds_ok, feed_errors=feeds.errors)
    result.feed_states = feeds.states
    result.items = [item for item in feeds.items if item.canonical_url not in known]
    result.counts.feed_items = len(feeds.items)
    result.counts.already_stored = len(feeds.items) - len(result.items)
    result.rechecks = repository.articles_to_recheck(
        settings.database_url,
        source.name,
        now - timedelta(hours=settings.revision_window_hours),
        now - timedelta(hours=settings.revision_interval_hours),
        settings.max_rechecks_per_source,
    )
    progress.discovered(source.name, len(result.items) + len(result.rechecks))
    return result


@task(name="process-batch", cache_policy=NO_CACHE)
def process_batch(
    source: SourceConfig, run_id: int, run_key: str, items: list[FeedItem]
) -> RunCounts:
    """Fetch a batch of pages politely, extract them in a process pool, store in one transaction."""
    settings = Settings()
    config = settings.fetch_config(source.delay)
    robots: list[FetchOutcome] = []
    hosts = registry_for(run_key, config.host_max_failures)
    fetched = fetch_pages([i.url for i in items], config, hosts=hosts, side=robots)
    inputs = pages_to_extract(fetched)
    extracted = _extract(inputs, settings.extract_workers)
    pages = page_results(items, fetched, extracted)
    near = repository.NearDup(
        matcher=functools.partial(best_match, threshold=settings.near_dup_threshold),
        window=timedelta(days=settings.near_dup_window_days),
    )
    counts = repository.store_pages(settings.database_url, run_id, pages, extra=robots, near=near)
    counts.fetched = len(inputs)
    progress.advanced(source.name, len(items))
    return counts


@task(name="recheck-batch", cache_policy=NO_CACHE)
def recheck_batch(
    source: SourceConfig, run_id: int, run_key: str, rechecks: list[Recheck]
) -> RunCounts:
    """Re-fetch recent articles conditionally; a changed text becomes a revision."""
    settings = Settings()
    config = settings.fetch_config(source.delay)
    sent = {r.url: conditional_headers_for(r) for r in rechecks}
    hosts = registry_for(run_key, config.host_max_failures)
    fetched = fetch_pages([r.url for r in rechecks], config, hosts=hosts, headers=sent)
    extracted = _extract(pages_to_extract(fetched), settings.extract_workers)
    items = [FeedItem(url=r.url, canonical_url=r.url) for r in rechecks]
    pages = page_results(items, fetched, extracted)
    counts = repository.apply_rechecks(settings.database_url, run_id, rechecks, pages)
    progress.advanced(source.name, len(rechecks))
    return counts


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(
    run_id: int,
    counts: RunCounts,
    status: str,
    error: str | None,
    feed_states: list[FeedState] | None = None,
) -> None:
    """Close the run; ``feed_states`` (only of a completed run) mark its feeds as read."""
    repository.finish_run(Settings().database_url, run_id, counts, status, error, feed_states or ())
