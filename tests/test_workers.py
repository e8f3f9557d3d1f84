"""The killable extraction pool (faults.md H1-H6): deadlines, size cap, crashes, recycling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.extract.extract import PageInput, extract_page
from tasks.extract.workers import ExtractionPool, PoolLimits, extract_many, resident_bytes
from tests.worker_faults import (
    CRASH_MARK,
    WAIT_MARK,
    crash_on_mark,
    report_language_model,
    slow_warm_up,
    wait_on_mark,
)


def article_page(n: int, extra: bytes = b"") -> PageInput:
    """A small, well-formed article page with enough words to be extracted."""
    words = " ".join(f"word{n}x{i}" for i in range(60))
    body = (
        f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
        f"<p>This is story number {n}. {words}.</p><p>It goes on about topic {n} at length, "
        f"with more words than the minimum the extractor asks for.</p></article>"
    ).encode()
    return PageInput(f"http://news.test/story-{n}", body + extra + b"</body></html>")


def link_paragraphs(count: int) -> PageInput:
    """The pathological page of faults.md H1: ``count`` link-bearing paragraphs (50,000 make
    3.6 MB and take trafilatura ~40 s)."""
    rows = b"".join(
        b'<p>Paragraph %d with <a href="/item/%d">a link to item %d</a> and words.</p>' % (i, i, i)
        for i in range(count)
    )
    return PageInput("http://news.test/links", b"<html><body>" + rows + b"</body></html>")


@pytest.fixture
def make_pool() -> Iterator[type[ExtractionPool]]:
    pools: list[ExtractionPool] = []

    def build(*args: object, **kwargs: object) -> ExtractionPool:
        pool = ExtractionPool(*args, **kwargs)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield build  # type: ignore[misc]
    for pool in pools:
        pool.shutdown()


def test_pool_slow_page_killed_at_deadline_others_extracted(
    make_pool: type[ExtractionPool],
) -> None:
    slow = link_paragraphs(50_000)
    assert len(slow.html) > 3_500_000
    pages = [article_page(1), slow, article_page(2), article_page(3)]
    pool = make_pool(2, PoolLimits(timeout=2.0, max_html_bytes=10_000_000))
    results = pool.map(pages)
    assert [r.url for r in results] == [p.url for p in pages]
    assert results[1].reason == "extract_timeout"
    assert results[1].article is None
    assert [results[i].reason for i in (0, 2, 3)] == ["ok", "ok", "ok"]


def tiny_paragraphs(count: int) -> PageInput:
    """A page of ``count`` one-letter paragraphs: 600,000 of them (4.8 MB) take a worker past
    500 MB within seconds, long before a 60 s deadline."""
    body = b"<p>a</p>" * count
    return PageInput(
        "http://news.test/tiny", b"<html><body><article>" + body + b"</article></body></html>"
    )


def test_pool_worker_past_its_memory_limit_is_killed_mid_page(
    make_pool: type[ExtractionPool],
) -> None:
    limits = PoolLimits(timeout=60.0, max_html_bytes=10_000_000, max_rss_mb=300)
    pool = make_pool(1, limits)
    pages = [article_page(1), tiny_paragraphs(600_000), article_page(2)]
    results = pool.map(pages)

    assert [r.reason for r in results] == ["ok", "extract_memory", "ok"]
    assert "> 300 MB" in (results[1].detail or "")
    assert len(pool.started_pids) == 2  # the killed worker was replaced; the run went on


def test_pool_killed_worker_is_replaced(make_pool: type[ExtractionPool]) -> None:
    pool = make_pool(1, PoolLimits(timeout=1.0, max_html_bytes=10_000_000))
    first = pool.map([link_paragraphs(50_000)])
    after = pool.map([article_page(1)])
    assert first[0].reason == "extract_timeout"
    assert after[0].reason == "ok"
    assert len(pool.started_pids) == 2


def test_pool_oversized_page_not_extracted(make_pool: type[ExtractionPool]) -> None:
    big = article_page(1, b"<p>" + b"x" * 2_000 + b"</p>")
    pool = make_pool(1, PoolLimits(max_html_bytes=1_000))
    results = pool.map([big])
    assert results[0].reason == "html_too_large"
    assert pool.started_pids == []  # never even sent to a worker


def test_extract_many_inline_applies_size_cap() -> None:
    pages = [article_page(1, b"<p>" + b"y" * 5_000 + b"</p>"), article_page(2)]
    results = extract_many(pages, None, PoolLimits(max_html_bytes=2_000))
    assert [r.reason for r in results] == ["html_too_large", "ok"]


def test_pool_crashed_worker_fails_only_its_page(make_pool: type[ExtractionPool]) -> None:
    pages = [article_page(1), article_page(2, CRASH_MARK), article_page(3), article_page(4)]
    pool = make_pool(2, PoolLimits(), crash_on_mark)
    results = pool.map(pages)
    assert [r.reason for r in results] == ["ok", "extract_crashed", "ok", "ok"]
    assert "139" in (results[1].detail or "")


def test_pool_batches_share_workers_while_a_straggler_runs(
    make_pool: type[ExtractionPool], tmp_path: Path
) -> None:
    release = tmp_path / "release"
    pool = make_pool(2, PoolLimits(), wait_on_mark)
    straggler = pool.submit(article_page(0, WAIT_MARK + str(release).encode() + b" -->"))
    other_batch = pool.map([article_page(1), article_page(2), article_page(3)])
    assert [r.url for r in other_batch] == [article_page(i).url for i in (1, 2, 3)]
    assert [r.reason for r in other_batch] == ["ok"] * 3
    assert not straggler.done()  # the second batch did not wait for the first one's straggler
    release.touch()
    assert straggler.result().reason == "ok"


def test_pool_extracts_older_batches_first(make_pool: type[ExtractionPool], tmp_path: Path) -> None:
    """Queued pages of the batch started first go first, whatever order they arrived in, so
    batches complete (and are stored) one after another instead of all at the end."""
    release = tmp_path / "release"
    pool = make_pool(1, PoolLimits(), wait_on_mark)
    older, newer = pool.batch(), pool.batch()
    done: list[str] = []
    blocker = pool.submit(article_page(0, WAIT_MARK + str(release).encode() + b" -->"))
    futures = [pool.submit(article_page(n), newer) for n in (1, 2)]
    futures += [pool.submit(article_page(n), older) for n in (3, 4)]
    for future in futures:
        future.add_done_callback(lambda f: done.append(f.result().url))
    release.touch()
    assert blocker.result().reason == "ok"
    assert [f.result().reason for f in futures] == ["ok"] * 4
    deadline = time.monotonic() + 10  # callbacks run just after the waiters are woken
    while len(done) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done == [article_page(n).url for n in (3, 4, 1, 2)]


def test_pool_prewarm_starts_workers_before_any_page(make_pool: type[ExtractionPool]) -> None:
    pool = make_pool(2, PoolLimits(recycle_rss_mb=0))
    pool.prewarm()
    deadline = time.monotonic() + 120
    while pool.ready_workers() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.ready_workers() == 2
    started = list(pool.started_pids)
    results = pool.map([article_page(i) for i in range(4)])
    assert [r.reason for r in results] == ["ok"] * 4
    assert pool.started_pids == started  # the warm workers took the pages
    pool.shutdown()
    assert pool.worker_pids() == []


def test_pool_shutdown_while_workers_warm_up_does_not_wait_for_them(
    make_pool: type[ExtractionPool],
) -> None:
    pool = make_pool(2, PoolLimits(), slow_warm_up)
    pool.prewarm()
    time.sleep(0.5)
    start = time.monotonic()
    pool.shutdown()
    assert time.monotonic() - start < 10  # the warm-up takes 60 s
    assert pool.worker_pids() == []


def test_pool_replaces_a_worker_that_died_while_idle(make_pool: type[ExtractionPool]) -> None:
    pool = make_pool(1, PoolLimits(recycle_rss_mb=0))
    assert pool.map([article_page(1)])[0].reason == "ok"
    (idle,) = pool.worker_pids()
    os.kill(idle, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while resident_bytes(idle) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.map([article_page(2)])[0].reason == "ok"  # not lost to the dead worker
    assert len(pool.started_pids) == 2


def test_pool_detects_languages_without_loading_py3langid(
    make_pool: type[ExtractionPool],
) -> None:
    """A worker detects the body's language with pycld2; py3langid's 70 MB model stays unloaded
    while pycld2 is sure, and the pool's results equal inline extraction's."""
    text = (
        "The city council voted on Tuesday to expand the bus network to the northern suburbs, "
        "after months of debate about the cost of new routes and the drivers it would need. "
        "Residents had asked for more frequent service for years, the mayor said."
    )
    mislabeled = PageInput(  # English text on a page that says it is French
        "http://news.test/bus",
        (
            f"<html lang='fr'><head><title>Bus network</title></head><body><article>"
            f"<h1>Bus network grows</h1><p>{text}</p><p>{text}</p></article></body></html>"
        ).encode(),
    )
    pool = make_pool(1, PoolLimits(), report_language_model)
    result = pool.map([mislabeled])[0]
    inline = extract_page(mislabeled)
    assert result.detail == "model loaded: False"
    assert result.article is not None and inline.article is not None
    assert inline.article.language == "en"
    assert result.article.language == "en"  # detected from the body, not the declared "fr"
    assert result.article == inline.article
    undetected = pool.map([replace(mislabeled, detect_language=False)])[0]
    assert undetected.article is not None and undetected.article.language == "fr"


def test_pool_recycles_worker_after_n_pages(make_pool: type[ExtractionPool]) -> None:
    pool = make_pool(1, PoolLimits(recycle_after=2))
    results = pool.map([article_page(i) for i in range(5)])
    assert [r.reason for r in results] == ["ok"] * 5
    assert len(set(pool.started_pids)) == 3  # pages 1-2, 3-4, 5


def test_pool_recycles_worker_above_its_memory_limit(make_pool: type[ExtractionPool]) -> None:
    # Every worker is above 1 MB after its first page: each page gets a fresh worker.
    pool = make_pool(1, PoolLimits(recycle_rss_mb=1))
    results = pool.map([article_page(i) for i in range(3)])
    assert [r.reason for r in results] == ["ok"] * 3
    assert len(set(pool.started_pids)) == 3


def test_resident_bytes_of_a_live_and_a_gone_process() -> None:
    own = resident_bytes(os.getpid())
    assert own is not None and 10 * 2**20 < own < 4 * 2**30
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert resident_bytes(gone.pid) is None


def test_pool_keeps_worker_below_recycle_limit(make_pool: type[ExtractionPool]) -> None:
    pool = make_pool(1, PoolLimits(recycle_after=200, recycle_rss_mb=4096))
    pool.map([article_page(i) for i in range(3)])
    before = pool.worker_pids()
    pool.map([article_page(i) for i in range(3, 6)])
    assert pool.worker_pids() == before
    assert len(pool.started_pids) == 1


def test_pool_that_cannot_start_workers_records_every_page(
    make_pool: type[ExtractionPool],
) -> None:
    unpicklable = lambda page: extract_page(page)  # noqa: E731 - a spawned worker cannot get it
    pool = make_pool(1, PoolLimits(), unpicklable)
    results = pool.map([article_page(1), article_page(2)])
    assert [r.reason for r in results] == ["extract_crashed", "extract_crashed"]
    assert "extraction pool failed" in (results[0].detail or "")


def test_pool_rejects_zero_workers() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        ExtractionPool(0)


# -- hostile markup (faults.md H3-H5): each one goes through a worker and comes back a result --


def test_pool_deeply_nested_divs_no_recursion_error(make_pool: type[ExtractionPool]) -> None:
    html = b"<html><body>" + b"<div>" * 200_000 + b"deep" + b"</div>" * 200_000 + b"</body></html>"
    pool = make_pool(1, PoolLimits(max_html_bytes=10_000_000))
    result = pool.map([PageInput("http://news.test/deep", html)])[0]
    assert result.reason == "no_extractable_text"
    assert "RecursionError" not in (result.detail or "")


def test_pool_huge_colspan_no_memory_error(make_pool: type[ExtractionPool]) -> None:
    table = b'<table><tr><td colspan="9007199254740991">cell</td></tr></table>'
    page = article_page(1, table)
    pool = make_pool(1, PoolLimits())
    result = pool.map([page])[0]
    assert result.reason == "ok"
    assert result.article is not None and "story number 1" in result.article.text


def test_pool_two_megabyte_attribute_extracted(make_pool: type[ExtractionPool]) -> None:
    image = b'<img src="data:image/png;base64,' + b"A" * 2_000_000 + b'">'
    page = article_page(1, image)
    pool = make_pool(1, PoolLimits(max_html_bytes=5_000_000))
    result = pool.map([page])[0]
    assert result.reason == "ok"
    assert result.article is not None and b"AAAA" not in result.article.text.encode()
