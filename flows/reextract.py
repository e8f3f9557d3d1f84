"""Re-extraction from kept raw HTML (``newsflow reextract``) and its retention.

Composes plain steps without Prefect: pick the latest kept page of each article
(``storage/rawpages.py``), decompress it (``tasks/extract/rawhtml.py``), extract it in the
killable pool (``tasks/extract/workers.py``), store what changed in one transaction per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flows.settings import Settings
from storage import boilerplate, rawpages
from storage.engine import snapshot, transaction
from storage.rawpages import ReextractCounts, StoredPage
from tasks.extract.extract import PageInput
from tasks.extract.rawhtml import decompress_body
from tasks.extract.workers import ExtractionPool, extract_many
from tasks.records import ExtractedArticle

# Told (done, total) after each batch.
Progress = Callable[[int, int], None]


def _input(page: StoredPage, learned: frozenset[str]) -> PageInput:
    body = decompress_body(page.body, page.encoding)
    return PageInput(page.url, body, page.content_type, boilerplate=learned)


def reextract_batch(
    settings: Settings, pages: list[StoredPage], pool: ExtractionPool | None
) -> ReextractCounts:
    """Extract one batch of kept pages and store the articles that changed."""
    with snapshot(settings.database_url) as session:
        learned = {
            name: boilerplate.learned_keys(session, name) if settings.boilerplate else frozenset()
            for name in {p.source for p in pages}
        }
    inputs = [_input(p, learned[p.source]) for p in pages]  # the source's boilerplate stripped
    results = extract_many(inputs, pool, settings.pool_limits)
    counts = ReextractCounts()
    done: list[tuple[StoredPage, ExtractedArticle]] = []
    for page, result in zip(pages, results, strict=True):
        if result.article is None:
            counts.examined += 1
            counts.fail(result.reason)
        else:
            done.append((page, result.article))
    with transaction(settings.database_url) as session:
        counts.add(rawpages.apply_reextractions(session, done))
    return counts


def reextract(
    settings: Settings,
    source: str | None = None,
    since: datetime | None = None,
    progress: Progress | None = None,
) -> ReextractCounts:
    """Re-extract every article (of ``source``, whose kept page was fetched since ``since``) from
    its latest kept page."""
    with snapshot(settings.database_url) as session:
        ids = rawpages.pages_to_reextract(session, source, since)
    counts = ReextractCounts()
    pool = (
        ExtractionPool(settings.extract_workers, settings.pool_limits)
        if (settings.extract_workers > 0)
        else None
    )
    try:
        for start in range(0, len(ids), settings.batch_size):
            with snapshot(settings.database_url) as session:
                batch = rawpages.load_pages(session, ids[start : start + settings.batch_size])
            counts.add(reextract_batch(settings, batch, pool))
            if progress is not None:
                progress(min(start + settings.batch_size, len(ids)), len(ids))
    finally:
        if pool is not None:
            pool.shutdown()
    return counts


def retention_cutoff(settings: Settings, days: float | None = None) -> datetime | None:
    """Kept pages fetched before this are pruned (``days`` or ``raw_html_retention_days``; 0
    keeps them forever: ``None``)."""
    keep = settings.raw_html_retention_days if days is None else days
    return None if keep <= 0 else datetime.now(UTC) - timedelta(days=keep)


def apply_retention(settings: Settings) -> int:
    """Delete kept pages older than ``raw_html_retention_days``; how many were deleted."""
    cutoff = retention_cutoff(settings)
    return 0 if cutoff is None else rawpages.prune_raw_pages(settings.database_url, cutoff)
