"""Per-host state for one run: politeness (one request at a time, a delay between requests),
a circuit breaker for hosts that keep failing, and the host's robots.txt rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from tasks.fetch.robots import Robots
    from tasks.records import FetchOutcome

# Outcomes that count against a host (the server or the path to it is failing).
HOST_FAILURES = frozenset({"conn_error", "timeout", "dns_error", "tls_error"})


def host_key(url: str) -> str:
    """``scheme://host[:port]``: the unit of politeness, robots.txt and circuit breaking."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    except ValueError:
        return ""


@dataclass
class HostState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_allowed: float = 0.0  # time.monotonic() before which no request may start
    failures: int = 0  # consecutive failed fetches (after retries)
    skipped: str | None = None  # why the host is skipped for the rest of the run
    robots: Robots | None = None
    crawl_delay: float = 0.0


class HostRegistry:
    """Hosts seen in one run. Thread-safe; shared by every batch of the run in this process
    (``flows/runtime.py:registry_for`` holds one per run)."""

    def __init__(self, max_failures: int = 5) -> None:
        self.max_failures = max_failures
        self._hosts: dict[str, HostState] = {}
        self._lock = threading.Lock()

    def host(self, key: str) -> HostState:
        with self._lock:
            return self._hosts.setdefault(key, HostState())

    @contextmanager
    def slot(self, key: str, delay: float) -> Iterator[HostState]:
        """Hold the host for one request (and its retries), spaced ``delay`` from the last."""
        state = self.host(key)
        with state.lock:
            wait = state.next_allowed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield state
            finally:
                state.next_allowed = time.monotonic() + max(delay, state.crawl_delay)

    def record(self, key: str, outcome: FetchOutcome) -> None:
        """Count the outcome against the host; trip the breaker after too many failures."""
        state = self.host(key)
        if outcome.defer_host:
            self.skip(key, f"deferred to the next run: {outcome.detail}")
        elif outcome.reason in HOST_FAILURES or outcome.reason.startswith("http_5"):
            state.failures += 1
            if state.failures >= self.max_failures and state.skipped is None:
                self.skip(key, f"{state.failures} consecutive failures, last {outcome.reason}")
        elif outcome.status_code is not None:
            state.failures = 0

    def skip(self, key: str, why: str) -> None:
        state = self.host(key)
        if state.skipped is None:
            state.skipped = why
