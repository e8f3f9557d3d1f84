"""Parsing one document in a killable process, bounded in time and memory.

feedparser and lxml run in C and pure Python without a clock: a hostile document could hold a
thread of the ingest process, which no Prefect timeout can interrupt (``docs/faults.md``, P2). Here
each document is parsed in a spawned helper process (started once, reused) with an address-space
limit; a parse still running after ``timeout`` seconds has its process killed
(``parse_timeout``), and one that dies or runs out of memory costs only its document
(``parse_crashed``); the next document gets a fresh process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tasks.records import Reason

PARSE_TIMEOUT = 30.0  # seconds one document may take to parse (a normal feed takes milliseconds)
PARSE_MEMORY_MB = 2048  # address space of the parsing process (a 20 MB document needs ~300 MB)
START_TIMEOUT = 60.0  # seconds the helper may take to start and import the parsers


class ParseAborted(Exception):
    """The document's parse was stopped; ``reason`` is ``parse_timeout`` or ``parse_crashed``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.args[1])


def _serve(conn: Connection, memory_mb: int) -> None:  # pragma: no cover - runs in the child
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # The parsers, imported before the first document (the dispatching module itself, which
    # imports this one, comes with the first call's pickled function).
    import tasks.discover.feeds
    import tasks.discover.sitemaps
    import tasks.discover.urllists  # noqa: F401

    conn.send("ready")
    while True:
        try:
            function, args = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, function(*args)))
        except BaseException as exc:  # the parent decides what it means
            conn.send((False, exc))


class IsolatedParser:
    """One helper process at a time; calls are serialised (a parse takes milliseconds)."""

    def __init__(self, timeout: float = PARSE_TIMEOUT, memory_mb: int = PARSE_MEMORY_MB) -> None:
        self.timeout, self.memory_mb = timeout, memory_mb
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.memory_mb), daemon=True)
        process.start()
        child.close()
        if not parent.poll(START_TIMEOUT) or parent.recv() != "ready":
            process.kill()
            raise ParseAborted(Reason.PARSE_CRASHED, "the parsing process did not start")
        self._process, self._conn = process, parent
        return parent

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in the helper process: its result, its exception re-raised, or
        :class:`ParseAborted`."""
        with self._lock:
            conn = self._conn or self._start()
            try:
                conn.send((function, args))
                if not conn.poll(self.timeout):
                    self._stop()
                    raise ParseAborted(
                        Reason.PARSE_TIMEOUT, f"parsing took over {self.timeout:g} s"
                    )
                ok, value = conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._stop()
                raise ParseAborted(Reason.PARSE_CRASHED, "the parsing process died") from None
        if not ok and isinstance(value, MemoryError):
            with self._lock:
                self._stop()
            raise ParseAborted(Reason.PARSE_CRASHED, f"out of memory ({self.memory_mb} MB)")
        if not ok:
            raise value
        return value

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            self._stop()
