"""Per-host state for one run: politeness (one request at a time, a delay between requests,
claimed without sleeping), a circuit breaker for hosts that keep failing, the host's robots.txt
rules, its kept-alive HTTP session and the run's address checks."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from tasks.fetch.netguard import CheckedHosts, NetworkPolicy
from tasks.records import Reason, http_reason

if TYPE_CHECKING:
    import requests

    from tasks.fetch.fetch import FetchConfig
    from tasks.fetch.robots import Robots
    from tasks.records import FetchOutcome, RobotsRecord

# Outcomes that count against a host (the server or the path to it is failing, or throttling).
HOST_FAILURES = frozenset(
    {Reason.CONN_ERROR, Reason.TIMEOUT, Reason.DNS_ERROR, Reason.TLS_ERROR, http_reason(429)}
)
SHARED_POLL = 0.1  # seconds: the least wait before asking again for a host another worker holds


class SharedSlots(Protocol):
    """Turns on hosts shared with the other workers of one database (``flows/hostslots.py``)."""

    def claim(self, key: str, hold: float) -> float:
        """0.0: the host's turn is ours for at most ``hold`` s; else seconds until it is free."""
        ...

    def release(self, key: str, pause: float) -> None:
        """End our turn: the host is free for anyone ``pause`` seconds from now."""
        ...


def host_key(url: str) -> str:
    """``scheme://host[:port]``: the unit of politeness, robots.txt and circuit breaking."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    except ValueError:
        return ""


class Waiter(Protocol):
    def host_released(self, key: str) -> None:
        """``key`` was given back (called with the registry's lock held): wake what waits."""
        ...


@dataclass
class HostState:
    busy: bool = False  # a request (with its redirects) is running
    next_allowed: float = 0.0  # time.monotonic() before which no request may start
    failures: int = 0  # consecutive failed fetches (after retries)
    skipped: str | None = None  # why the host is skipped for the rest of the run
    robots: Robots | None = None
    crawl_delay: float = 0.0
    session: requests.Session | None = None  # kept alive for the run (connections reused)
    shared_turn: bool = False  # the holding thread has the host's turn in the shared slots


@dataclass
class HostRegistry:
    """Hosts seen in one run. Thread-safe; shared by every batch of the run in this process
    (``flows/runtime.py:registry_for`` holds one per run).

    A fetching thread :meth:`claim`\\ s a host, which never sleeps: a host that is busy or whose
    next slot is in the future answers how long to wait, and the thread takes another host.
    :meth:`claim` is the one place that decides "may this host be fetched now". :meth:`release`
    sets the host's next slot and tells the :meth:`watch`\\ ing callers (``polite._Plan``), each of
    which wakes one of its threads if it has URLs of that host.
    """

    max_failures: int = 5
    slots: SharedSlots | None = None  # turns shared with other workers (None: this run only)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _hosts: dict[str, HostState] = field(default_factory=dict)
    _fresh: list[RobotsRecord] = field(default_factory=list)  # fetched this run, to be saved
    _checks: dict[NetworkPolicy, CheckedHosts] = field(default_factory=dict)
    _waiters: list[Waiter] = field(default_factory=list)

    def host(self, key: str) -> HostState:
        with self.lock:
            return self._hosts.setdefault(key, HostState())

    def claim(self, key: str) -> float:
        """Take the host for one request when it is free and its slot has come (0.0); else the
        seconds until its slot (``inf`` while another thread holds it). With
        :meth:`take_shared_turn` (the turn among other workers, asked once the host is held,
        outside the lock) the one place that decides "may I fetch this host now"; it runs with
        the registry's lock held, so it never does I/O."""
        with self.lock:
            state = self._hosts.setdefault(key, HostState())
            if state.busy:
                return math.inf
            wait = state.next_allowed - time.monotonic()
            if wait > 0:
                return wait
            state.busy = True
            return 0.0

    def take_shared_turn(self, key: str, config: FetchConfig) -> float:
        """While holding the host (:meth:`claim`), take its turn among every worker sharing
        :attr:`slots`: 0.0 when taken (or nothing is shared), else the seconds to wait before
        asking again (at most the host's delay: a turn held for a request in flight ends when
        the request does). :meth:`release` ends a turn taken."""
        if self.slots is None:
            return 0.0
        state = self.host(key)
        hold = config.total_timeout + (config.max_redirects + 1) * config.connect_timeout
        wait = self.slots.claim(key, hold + max(config.delay, state.crawl_delay))
        state.shared_turn = wait == 0.0
        return min(wait, max(config.delay, state.crawl_delay, SHARED_POLL))

    def release(self, key: str, pause: float | None) -> None:
        """Give the host back: its next request no sooner than ``pause`` seconds from now
        (``None``: no request was sent, the slot stays as it was); a shared turn ends first, so
        this run's next claim finds it free."""
        state = self.host(key)
        if state.shared_turn and self.slots is not None:
            state.shared_turn = False
            self.slots.release(key, pause or 0.0)
        with self.lock:
            state = self._hosts.setdefault(key, HostState())
            state.busy = False
            if pause is not None:
                state.next_allowed = max(state.next_allowed, time.monotonic() + pause)
            for waiter in self._waiters:
                waiter.host_released(key)

    def watch(self, waiter: Waiter) -> None:
        """Tell ``waiter`` of every host given back, until :meth:`unwatch`."""
        with self.lock:
            self._waiters.append(waiter)

    def unwatch(self, waiter: Waiter) -> None:
        with self.lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def session(self, key: str, make: Callable[[], requests.Session]) -> requests.Session:
        """The host's session (made on first use; only the thread holding the host uses it)."""
        state = self.host(key)
        if state.session is None:
            state.session = make()
        return state.session

    def checks(self, policy: NetworkPolicy) -> CheckedHosts:
        """The run's address checks under ``policy``: each host resolved and checked once."""
        with self.lock:
            return self._checks.setdefault(policy, CheckedHosts(policy))

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

    def unknown_robots(self, keys: Iterable[str]) -> list[str]:
        """The hosts among ``keys`` whose robots.txt this run has not read yet."""
        return sorted({key for key in keys if self.host(key).robots is None})

    def prime_robots(self, known: dict[str, Robots]) -> None:
        """Rules read from the cross-run cache: these hosts' robots.txt is not fetched again."""
        for key, robots in known.items():
            state = self.host(key)
            if state.robots is None:
                state.robots, state.crawl_delay = robots, robots.crawl_delay()

    def learned_robots(self, record: RobotsRecord) -> None:
        with self.lock:
            self._fresh.append(record)

    def take_fresh_robots(self) -> list[RobotsRecord]:
        """The robots.txt answers fetched since the last call, for the cross-run cache."""
        with self.lock:
            fresh, self._fresh = self._fresh, []
        return fresh

    def close(self) -> None:
        """Close the hosts' sessions (their kept-alive connections)."""
        with self.lock:
            sessions = [s.session for s in self._hosts.values() if s.session is not None]
            for state in self._hosts.values():
                state.session = None
        for session in sessions:
            session.close()
