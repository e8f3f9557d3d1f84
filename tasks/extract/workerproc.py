"""One extraction worker: a spawned process with a pipe that warms up, says ready, then extracts
the pages it is sent (:class:`Worker`), the queued page it works on (:class:`Job`) and the
per-page limits its pool enforces (:class:`PoolLimits`). The supervision (deadlines, memory,
recycling) is ``tasks/extract/workers.py``."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from tasks.extract.extract import PageInput
from tasks.records import ExtractionResult, Reason

Extractor = Callable[[PageInput], ExtractionResult]
START_TIMEOUT = 120.0  # seconds a new worker may take to import and warm up
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MAX_START_FAILURES = 3  # consecutive workers that die before being ready: give the batch up
# Long enough to take every lazy import of a real page's path (extraction, metadata, MinHash).
_WARM_UP = PageInput(
    "http://warm-up.invalid/",
    b"<html lang='en'><head><title>Warm up</title></head><body><article><h1>Warm up</h1><p>"
    + b" ".join(b"word%d" % i for i in range(80))
    + b".</p><p>A second paragraph of the warm-up page.</p></article></body></html>",
)


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Per-page limits of the pool (``flows/settings.py``: ``extract_timeout``,
    ``max_html_bytes``, ``extract_recycle_after``, ``extract_recycle_rss_mb``,
    ``extract_max_rss_mb``)."""

    timeout: float = 20.0
    max_html_bytes: int = 5_000_000
    recycle_after: int = 1000
    recycle_rss_mb: int = 300  # 0: never recycle by size
    max_rss_mb: int = 512  # a worker past this while extracting is killed mid-page (0: off)


def _serve(conn: Connection, extractor: Extractor) -> None:
    """A worker's loop: warm up, say ready, then extract what it is sent until told to stop (or
    until its parent is gone). Ctrl-C is the parent's business: the worker ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    extractor(replace(_WARM_UP, detect_language=False))  # py3langid's model stays unloaded
    conn.send("ready")
    with contextlib.suppress(EOFError, BrokenPipeError):
        while (page := conn.recv()) is not None:
            conn.send(extractor(page))


def resident_bytes(pid: int | None) -> int | None:
    """The resident memory of process ``pid`` (Linux ``/proc``), or None where unknown."""
    if pid is None:
        return None
    try:
        return int(Path(f"/proc/{pid}/statm").read_bytes().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def too_large(page: PageInput, limit: int) -> ExtractionResult | None:
    """The ``html_too_large`` result for a page above ``limit`` bytes, else ``None``."""
    if len(page.html) <= limit:
        return None
    return ExtractionResult(
        page.url, None, Reason.HTML_TOO_LARGE, f"{len(page.html)} bytes > {limit} (max_html_bytes)"
    )


@dataclass(order=True, slots=True)
class Job:
    """A queued page and the future its caller waits on; jobs order by (batch, arrival)."""

    batch: int
    seq: int
    page: PageInput = field(compare=False)
    future: Future[ExtractionResult] = field(compare=False)


class Worker:
    """One spawned process, its end of the pipe, and what it is doing."""

    def __init__(self, extractor: Extractor) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child, extractor), daemon=True, name="newsflow-extract"
        )
        self.process.start()
        child.close()
        self.ready = False
        self.started = time.monotonic()
        self.done = 0  # pages extracted
        self.job: Job | None = None  # the page it is working on
        self.deadline = 0.0

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        """Ask it to exit; kill it if it does not."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(5)
        self.kill()
