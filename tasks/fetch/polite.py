"""Polite fetching of many URLs: per host one request at a time, ``delay`` apart (or the host's
robots.txt Crawl-delay, or its Retry-After), robots.txt obeyed for pages, failing or throttling
hosts skipped for the rest of the run; different hosts concurrently.

No thread ever sleeps on a host. ``config.concurrency`` threads share the call's queue of URLs
per host: a thread takes the next URL of a host that is free and whose slot has come, and when
none is, waits until the soonest slot (one thread of the call keeps that time) or until a host
the call has URLs for is given back; a release wakes one thread of each call waiting for that
host, never every waiting thread. Whether a host may be fetched now is decided in one place,
``HostRegistry.claim``. A host whose
next slot is in the future (its delay, a retry's backoff, a ``Retry-After``) thus yields to the
hosts that are ready, so pages arrive as fast as the network and the ready hosts allow. A retry
goes back to the front of its host's queue with the host's slot moved to when it may run.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from tasks.fetch.fetch import FetchConfig, attempt, fetch, make_session
from tasks.fetch.hosts import HostRegistry, HostState, host_key
from tasks.fetch.robots import interpret, record_of, robots_url
from tasks.records import FetchOutcome, Reason

WAKE_AT_LEAST = 1.0  # seconds: the thread waiting for the soonest slot looks again this often
WAKE_IDLE = 5.0  # seconds: any other waiting thread looks again this often (a safety net)

OnOutcome = Callable[[int, FetchOutcome], None]


@dataclass(slots=True)
class _Job:
    index: int
    url: str
    number: int = 1  # which attempt is next


@dataclass(eq=False)
class _Plan:
    """One call's URLs, queued per host, and what the fetching threads share.

    Its threads wait on :attr:`wakeup` (a condition on the registry's lock) and are woken one at
    a time, only when they may have something to do: a host of theirs was given back
    (:meth:`host_released`, called by the registry), a job came back to the queue, or a thread
    took a job while more are queued. One waiting thread (the timekeeper) waits for the soonest
    slot of the plan's hosts; the others wait to be woken."""

    queues: dict[str, deque[_Job]]
    wakeup: threading.Condition
    in_flight: int = 0
    results: dict[int, FetchOutcome] = field(default_factory=dict)
    timekeeper: bool = False  # a thread waits for the soonest slot

    def take(self, hosts: HostRegistry) -> tuple[str, _Job, bool] | None:
        """The next job, its host, and whether the host was claimed for it (not when the host
        is skipped: no request will be sent), waiting (never on one host) until a host is
        ready; ``None`` when every URL is done."""
        with hosts.lock:
            while self.queues or self.in_flight:
                soonest = math.inf
                for key in list(self.queues):
                    skipped = hosts.host(key).skipped is not None
                    wait = 0.0 if skipped else hosts.claim(key)
                    if wait == 0.0:
                        return key, self._pop(key), not skipped
                    soonest = min(soonest, wait)
                self._wait(soonest)
            return None

    def _pop(self, key: str) -> _Job:  # with the registry's lock held
        queue = self.queues.pop(key)  # round robin: the host goes to the end
        job = queue.popleft()
        if queue:
            self.queues[key] = queue
        self.in_flight += 1
        if self.queues:
            self.wakeup.notify()  # another thread may find another host ready
        return job

    def _wait(self, soonest: float) -> None:  # with the registry's lock held
        if soonest == math.inf or self.timekeeper:
            self.wakeup.wait(WAKE_IDLE)
            return
        self.timekeeper = True
        try:
            self.wakeup.wait(min(soonest, WAKE_AT_LEAST))
        finally:
            self.timekeeper = False

    def host_released(self, key: str) -> None:
        """The registry gave ``key`` back (its lock held): wake a thread if a job waits for it."""
        if key in self.queues:
            self.wakeup.notify()

    def again(self, key: str, job: _Job) -> None:
        """Queue ``job`` first on its host again (a retry, or a page after its robots.txt)."""
        self.queues[key] = deque([job, *self.queues.pop(key, ())])
        self.wakeup.notify()

    def finished(self) -> None:
        """A job is over (the registry's lock held): when it was the last, every thread ends."""
        self.in_flight -= 1
        if not self.queues and not self.in_flight:
            self.wakeup.notify_all()


def _robots(
    state: HostState,
    key: str,
    url: str,
    config: FetchConfig,
    hosts: HostRegistry,
    side: list[FetchOutcome],
) -> None:
    """Read the host's robots.txt (the held host's request) and apply it to the host."""
    session = hosts.session(key, lambda: make_session(config))
    outcome = fetch(
        session, robots_url(url), "robots", config, check=hosts.checks(config.network_policy)
    )
    side.append(replace(outcome, body=None))
    state.robots = interpret(outcome)
    state.crawl_delay = state.robots.crawl_delay()
    record = record_of(key, outcome, datetime.now(UTC))
    if record is not None:
        hosts.learned_robots(record)
    if state.robots.deferred:
        hosts.skip(key, state.robots.deferred + "; host deferred to the next run")
    elif state.crawl_delay > config.max_crawl_delay:
        hosts.skip(
            key, f"Crawl-delay {state.crawl_delay:.0f}s exceeds {config.max_crawl_delay:.0f}s"
        )


def _skipped(url: str, kind: str, reason: str, detail: str) -> FetchOutcome:
    return FetchOutcome(
        url=url, kind=kind, reason=reason, detail=detail, started_at=datetime.now(UTC)
    )


@dataclass
class _Fetcher:
    """What the fetching threads of one call share."""

    config: FetchConfig
    kind: str
    hosts: HostRegistry
    headers: Mapping[str, Mapping[str, str]]
    side: list[FetchOutcome]
    on_outcome: OnOutcome | None
    plan: _Plan
    errors: list[BaseException] = field(default_factory=list)

    def run(self) -> None:
        try:
            while (taken := self.plan.take(self.hosts)) is not None:
                key, job, held = taken
                try:
                    done = self._one(key, job) if held else self._skipped(key, job)
                finally:
                    with self.hosts.lock:
                        self.plan.finished()
                if done is not None:
                    self.plan.results[job.index] = done
                    if self.on_outcome is not None:
                        self.on_outcome(job.index, done)
        except BaseException as exc:  # re-raised by fetch_pages (its caller's bug, not a server's)
            self.errors.append(exc)
            with self.hosts.lock:
                self.plan.queues.clear()
                self.plan.wakeup.notify_all()

    def _skipped(self, key: str, job: _Job) -> FetchOutcome:
        why = self.hosts.host(key).skipped or ""
        return _skipped(job.url, self.kind, Reason.HOST_SKIPPED, why)

    def _one(self, key: str, job: _Job) -> FetchOutcome | None:
        """Work on ``job`` while holding its host: its final outcome, or ``None`` when it went
        back to the queue."""
        pause: float | None = None
        try:
            if (wait := self.hosts.take_shared_turn(key, self.config)) > 0:  # another worker's
                self._requeue(key, job)  # turn on the host (shared slots): ask again later
                pause = wait
                return None
            outcome, pause = self._held(key, job)
            return outcome
        finally:
            self.hosts.release(key, pause)

    def _held(self, key: str, job: _Job) -> tuple[FetchOutcome | None, float | None]:
        """The outcome (``None``: queued again) and the pause the host needs before its next
        request (``None``: no request was sent)."""
        config, state = self.config, self.hosts.host(key)
        delay = max(config.delay, state.crawl_delay)
        needs_robots = self.kind == "page" and config.robots and state.skipped is None
        if needs_robots and state.robots is None:
            _robots(state, key, job.url, config, self.hosts, self.side)
            self._requeue(key, job)
            return None, max(config.delay, state.crawl_delay)
        if state.skipped is not None:
            return _skipped(job.url, self.kind, Reason.HOST_SKIPPED, state.skipped), None
        if self.kind == "page" and state.robots is not None and not state.robots.allows(job.url):
            return _skipped(
                job.url, self.kind, Reason.ROBOTS_DISALLOWED, "disallowed by robots.txt"
            ), None
        session = self.hosts.session(key, lambda: make_session(config))
        checks = self.hosts.checks(config.network_policy)
        extra = self.headers.get(job.url)
        tried = attempt(session, job.url, self.kind, config, job.number, extra, checks)
        if tried.retry_in is not None:
            job.number += 1
            self._requeue(key, job)
            return None, max(delay, tried.retry_in)
        self.hosts.record(key, tried.outcome)
        return tried.outcome, delay

    def _requeue(self, key: str, job: _Job) -> None:
        with self.hosts.lock:
            self.plan.again(key, job)


def fetch_pages(
    urls: Iterable[str],
    config: FetchConfig,
    kind: str = "page",
    hosts: HostRegistry | None = None,
    headers: Mapping[str, Mapping[str, str]] | None = None,
    side: list[FetchOutcome] | None = None,
    on_outcome: OnOutcome | None = None,
) -> list[FetchOutcome]:
    """Fetch many URLs politely (module docstring); ``hosts`` carries the hosts' state across
    calls of one run (batches, sources: a host is never fetched by two of them at once).
    ``headers`` maps a URL to extra request headers (conditional GET); robots.txt fetches are
    appended to ``side``. ``on_outcome(index, outcome)`` is called (from a fetching thread) as
    soon as the URL at ``index`` is done, e.g. to start extracting it. Results keep the order of
    ``urls``."""
    ordered = list(urls)
    if not ordered:
        return []
    registry = hosts if hosts is not None else HostRegistry(config.host_max_failures)
    queues: dict[str, deque[_Job]] = {}
    for index, url in enumerate(ordered):
        queues.setdefault(host_key(url), deque()).append(_Job(index, url))
    plan = _Plan(queues, threading.Condition(registry.lock))
    fetcher = _Fetcher(
        config, kind, registry, headers or {}, side if side is not None else [], on_outcome, plan
    )
    threads = [
        threading.Thread(target=fetcher.run, name=f"fetch-{n}", daemon=True)
        for n in range(max(1, min(config.concurrency, len(queues))))
    ]
    registry.watch(plan)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        registry.unwatch(plan)
    if hosts is None:
        registry.close()
    if fetcher.errors:
        raise fetcher.errors[0]
    return [plan.results[index] for index in range(len(ordered))]
