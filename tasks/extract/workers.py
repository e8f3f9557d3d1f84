"""A killable extraction pool: spawned worker processes, a hard deadline per page.

trafilatura can run for minutes on a hostile page (a 3.6 MB page of 50,000 link paragraphs takes
~40 s) and a C extension can crash its process. ``concurrent.futures`` can neither interrupt one
call nor survive a dead worker without failing the whole batch. Here the calling thread supervises
its own workers, each a spawned process with a pipe:

- a page above ``max_html_bytes`` is not sent at all (``html_too_large``);
- a page still running after ``timeout`` seconds has its worker killed (``extract_timeout``);
- a worker that dies on a page (segfault, out of memory, ``os._exit``) costs only that page
  (``extract_crashed``);
- a worker whose resident memory passes ``max_rss_mb`` while it extracts a page (polled every
  ``RSS_POLL`` seconds) is killed mid-page (``extract_memory``);
- a worker is replaced after ``recycle_after`` pages, or as soon as its resident memory passes
  ``recycle_rss_mb`` (trafilatura's and lxml's caches keep growing; a fresh worker costs about a
  second of CPU to import and warm up, so recycling by size rather than often by count keeps the
  memory bounded without losing throughput).

The other pages of the batch are extracted as usual; results keep the input order. A worker warms
up (imports trafilatura, extracts a tiny page) before it is given work, so its start-up never
counts against a page's deadline. Pages of concurrent batches (sources) share one queue: a worker
that finishes takes the next queued page of the oldest batch (:meth:`ExtractionPool.batch`), so
batches complete one after another and each is stored while the workers extract the next, rather
than all of them finishing together at the end.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from multiprocessing.connection import Connection, wait

from tasks.extract.extract import PageInput, extract_page
from tasks.extract.workerproc import (
    MAX_START_FAILURES,
    START_TIMEOUT,
    Extractor,
    Job,
    PoolLimits,
    Worker,
    resident_bytes,
    too_large,
)
from tasks.records import ExtractionResult, Reason

DEFAULT_LIMITS = PoolLimits()
RSS_POLL = 0.1  # seconds between memory checks of the busy workers

__all__ = ["ExtractionPool", "PoolLimits", "extract_many", "resident_bytes", "too_large"]

log = logging.getLogger("newsflow")


def _resolve(future: Future[ExtractionResult], result: ExtractionResult) -> None:
    """Hand ``result`` to ``future``'s caller; a future the caller cancelled is left alone."""
    with contextlib.suppress(InvalidStateError):
        future.set_result(result)


class ExtractionPool:
    """``workers`` spawned processes running ``extractor`` with the per-page ``limits``.

    Pages from any number of threads share one queue (:meth:`submit`, :meth:`map`), so a batch's
    stragglers never leave a worker idle while another batch waits. A supervisor thread, started
    when work arrives and gone when the pool is idle, owns the workers. Created empty: workers
    start on the first page. Not picklable; one per process.
    """

    def __init__(
        self, workers: int, limits: PoolLimits = DEFAULT_LIMITS, extractor: Extractor = extract_page
    ) -> None:
        if workers < 1:
            raise ValueError("an extraction pool needs at least one worker")
        self.size = workers
        self.limits = limits
        self._extractor = extractor
        self._workers: list[Worker] = []
        self._queue: list[Job] = []  # a heap: oldest batch first, then arrival order
        self._batches = itertools.count(1)
        self._arrivals = itertools.count()
        self._lock = threading.Lock()  # guards _queue and _supervisor
        self._supervisor: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()  # a byte written here wakes the supervisor
        os.set_blocking(self._wake_r, False)
        self.started_pids: list[int] = []  # every worker ever started, in order (observability)
        self._warm = False  # keep ``size`` workers even when idle (prewarm), until shutdown
        self._start_failures = 0  # consecutive workers that died before they were ready
        self._settled: list[tuple[Job, ExtractionResult]] = []  # answers not yet handed back

    def batch(self) -> int:
        """A new batch number, for :meth:`submit`: queued pages of older batches go first."""
        return next(self._batches)

    def submit(self, page: PageInput, batch: int = 0) -> Future[ExtractionResult]:
        """Queue one page of ``batch`` (0: ahead of every numbered batch); its future never
        raises (a failure is a result with a reason)."""
        future: Future[ExtractionResult] = Future()
        refused = too_large(page, self.limits.max_html_bytes)
        if refused is not None:
            future.set_result(refused)
            return future
        job = Job(batch, next(self._arrivals), page, future)
        with self._lock:
            heapq.heappush(self._queue, job)
            self._ensure_supervisor()
        self._wake()
        return future

    def prewarm(self) -> None:
        """Start the workers now (they import and warm up in the background), so the first
        pages do not wait for them. They stay until :meth:`shutdown`."""
        with self._lock:
            self._warm = True
            self._ensure_supervisor()
        self._wake()

    def _ensure_supervisor(self) -> None:  # with self._lock held
        if self._supervisor is None:
            self._supervisor = threading.Thread(
                target=self._supervise, name="newsflow-extract-pool", daemon=True
            )
            self._supervisor.start()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    def map(self, pages: Sequence[PageInput]) -> list[ExtractionResult]:
        """Extract ``pages`` (one batch); one result per page, in input order. Never raises for a
        page."""
        batch = self.batch()
        futures = [self.submit(page, batch) for page in pages]
        return [future.result() for future in futures]

    def _supervise(self) -> None:
        """The supervisor thread: run until no page is queued or being extracted."""
        try:
            self._start_failures = 0
            while self._step():
                pass
        except Exception as exc:  # cannot spawn or talk to workers: record it, start afresh
            log.exception("extraction pool failed; its workers are replaced")
            self._fail_all(f"extraction pool failed: {type(exc).__name__}: {exc}")
        finally:  # whatever happened, the next page starts a new supervisor
            with self._lock:
                if self._supervisor is threading.current_thread():
                    self._supervisor = None

    def _step(self) -> bool:
        """One round: start and feed workers, wait for one to answer or a page to arrive, take
        the answers, enforce deadlines. False (the supervisor is gone) when there is no work."""
        with self._lock:
            if not self._queue and not self._busy() and not self._warming():
                self._supervisor = None
                return False
            wanted = self.size if self._warm else min(self.size, len(self._queue) + self._busy())
        self._top_up(wanted)
        self._feed_idle_workers()
        ready = wait(self._waitables(), timeout=self._next_deadline())
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)
        for worker in list(self._workers):
            if worker.conn in ready or worker.process.sentinel in ready:
                self._receive(worker)
        self._enforce_deadlines()
        self._enforce_memory()
        if self._start_failures >= MAX_START_FAILURES:
            self._give_up()
        self._feed_idle_workers()  # before the parent's share of the answers: workers first
        self._hand_back()
        return True

    def _feed_idle_workers(self) -> None:
        for worker in list(self._workers):
            if not (worker.ready and worker.job is None):
                continue
            if not worker.process.is_alive():  # died while idle (OOM killer, operator)
                self._receive(worker)
                continue
            if (job := self._next_job()) is not None:
                self._dispatch(worker, job)

    def _hand_back(self) -> None:
        """Give the workers' answers to their callers (after feeding the workers again)."""
        settled, self._settled = self._settled, []
        for job, result in settled:
            _resolve(job.future, result)

    def _next_job(self) -> Job | None:
        with self._lock:
            return heapq.heappop(self._queue) if self._queue else None

    def _warming(self) -> bool:
        """Prewarmed workers still starting: the supervisor stays to see them ready."""
        workers = self._workers
        return self._warm and (len(workers) < self.size or any(not w.ready for w in workers))

    def _busy(self) -> int:
        return sum(w.job is not None for w in self._workers)

    def _top_up(self, wanted: int) -> None:
        while len(self._workers) < wanted:
            worker = Worker(self._extractor)
            self._workers.append(worker)
            if worker.process.pid is not None:
                self.started_pids.append(worker.process.pid)

    def _waitables(self) -> list[Connection | int]:
        out: list[Connection | int] = [self._wake_r]
        for worker in self._workers:
            out += [worker.conn, worker.process.sentinel]
        return out

    def _next_deadline(self) -> float:
        now = time.monotonic()
        deadlines = [w.deadline for w in self._workers if w.job is not None]
        deadlines += [w.started + START_TIMEOUT for w in self._workers if not w.ready]
        if self.limits.max_rss_mb and any(w.job is not None for w in self._workers):
            deadlines.append(now + RSS_POLL)  # watch the busy workers' memory
        return max(0.0, min(deadlines, default=now + 1.0) - now)

    def _dispatch(self, worker: Worker, job: Job) -> None:
        worker.job = job
        worker.deadline = time.monotonic() + self.limits.timeout
        with contextlib.suppress(OSError):  # it died since it said ready: its sentinel tells
            worker.conn.send(job.page)

    def _receive(self, worker: Worker) -> None:
        """Take a worker's message, or bury it when its process is gone."""
        try:
            message = worker.conn.recv() if worker.conn.poll() else None
        except (EOFError, OSError):
            message = None
        if message == "ready":
            worker.ready, self._start_failures = True, 0
            return
        if isinstance(message, ExtractionResult) and worker.job is not None:
            self._settled.append((worker.job, message))
            worker.job, worker.done = None, worker.done + 1
            if worker.done >= self.limits.recycle_after or self._too_big(worker):
                self._retire(worker, stop=True)
            return
        code = self._retire(worker, stop=False)
        if worker.job is not None:
            url = worker.job.page.url
            detail = f"worker exited with code {code}"
            _resolve(worker.job.future, ExtractionResult(url, None, Reason.EXTRACT_CRASHED, detail))
            log.warning("extraction worker died on %s (exit code %s)", url, code)
        elif not worker.ready or worker.done == 0:  # never did a page: counts as a failed start
            self._start_failures += 1
            log.warning("extraction worker died before its first page (exit code %s)", code)

    def _too_big(self, worker: Worker) -> bool:
        limit = self.limits.recycle_rss_mb
        rss = resident_bytes(worker.process.pid) if limit else None
        return rss is not None and rss > limit * 2**20

    def _retire(self, worker: Worker, stop: bool) -> int | None:
        self._workers.remove(worker)
        worker.stop() if stop else worker.kill()
        return worker.process.exitcode

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.job is not None and now >= worker.deadline:
                url = worker.job.page.url
                self._retire(worker, stop=False)
                detail = f"killed after {self.limits.timeout:g} s (extract_timeout)"
                _resolve(
                    worker.job.future, ExtractionResult(url, None, Reason.EXTRACT_TIMEOUT, detail)
                )
                log.warning("extraction of %s killed after %g s", url, self.limits.timeout)
            elif not worker.ready and now >= worker.started + START_TIMEOUT:
                self._retire(worker, stop=False)
                self._start_failures += 1

    def _enforce_memory(self) -> None:
        """Kill a worker whose memory passed ``max_rss_mb`` while it extracts a page: the page
        is ``extract_memory``, the worker is replaced (before it takes the machine's memory)."""
        limit = self.limits.max_rss_mb
        for worker in list(self._workers):
            if not limit or worker.job is None:
                continue
            rss = resident_bytes(worker.process.pid)
            if rss is None or rss <= limit * 2**20:
                continue
            url = worker.job.page.url
            self._retire(worker, stop=False)
            detail = f"worker reached {rss // 2**20} MB > {limit} MB (extract_max_rss_mb)"
            _resolve(worker.job.future, ExtractionResult(url, None, Reason.EXTRACT_MEMORY, detail))
            log.warning("extraction of %s killed at %d MB", url, rss // 2**20)

    def _give_up(self) -> None:
        """Workers keep dying before they are ready: fail the waiting pages instead of looping."""
        with self._lock:
            jobs, self._queue, self._warm = list(self._queue), [], False
        log.error("extraction workers cannot start; %d page(s) not extracted", len(jobs))
        for job in jobs:
            detail = "extraction workers could not start"
            _resolve(
                job.future, ExtractionResult(job.page.url, None, Reason.EXTRACT_CRASHED, detail)
            )
        self._start_failures = 0

    def _fail_all(self, detail: str) -> None:
        """After an error of the pool itself: kill every worker, fail every page in flight or
        queued, and leave (the next page starts a new supervisor and new workers)."""
        self._hand_back()  # answered already: hand them back
        jobs = [w.job for w in self._workers if w.job is not None]
        for worker in list(self._workers):
            with contextlib.suppress(Exception):
                self._retire(worker, stop=False)
        with self._lock:
            jobs += list(self._queue)
            self._queue = []
            self._supervisor = None
        for job in jobs:
            _resolve(
                job.future, ExtractionResult(job.page.url, None, Reason.EXTRACT_CRASHED, detail)
            )

    def ready_workers(self) -> int:
        """How many workers are warmed up and able to take a page now."""
        return sum(w.ready for w in list(self._workers))

    def worker_pids(self) -> list[int]:
        """The pids of the workers alive now."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def shutdown(self) -> None:
        """Wait for the queued pages, then stop every worker (idempotent; the pool starts new
        ones if used again)."""
        with self._lock:
            supervisor, self._warm = self._supervisor, False
        self._wake()  # a supervisor waiting on warming workers sees that they are not wanted
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        for worker in list(self._workers):
            self._retire(worker, stop=worker.ready and worker.job is None)  # else: killed


def extract_many(
    pages: Sequence[PageInput], pool: ExtractionPool | None, limits: PoolLimits = DEFAULT_LIMITS
) -> list[ExtractionResult]:
    """Extract pages in ``pool``, or inline without one (no deadline then, only the size cap);
    results keep the input order."""
    if pool is not None:
        return pool.map(pages)
    out = []
    for page in pages:
        out.append(too_large(page, limits.max_html_bytes) or extract_page(page))
    return out
