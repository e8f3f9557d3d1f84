"""Fetch scheduling (tasks.fetch.polite): hosts waiting for their slot yield to ready hosts, retries
and Retry-After move the host's slot instead of holding a thread, a dripping server is not retried,
addresses are checked once per host per run, connections are reused. Real loopback servers."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tasks.fetch import netguard
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.polite import _Job, _Plan, fetch_pages
from tests.loopback import LoopbackServer, Route
from tests.rawserver import RawServer, drip, head
from tests.test_fetch_faults import HTML, Handler, _config, _reply, _sequence

Log = list[tuple[str, float, int]]  # (server:path, start, client port) of each request


@pytest.fixture
def other() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    yield srv
    srv.close()


@pytest.fixture
def raw() -> Iterator[RawServer]:
    srv = RawServer()
    yield srv
    srv.close()


def _logged(log: Log, name: str, inner: Handler | None = None) -> Handler:
    """Record the request in ``log``, then answer as ``inner`` (default: 200 HTML)."""

    def handler(handler: BaseHTTPRequestHandler) -> None:
        log.append((name + handler.path, time.monotonic(), handler.client_address[1]))
        if inner is None:
            _reply(handler, 200, HTML)
        else:
            inner(handler)

    return handler


def test_fetch_pages_ready_host_goes_while_another_waits_for_its_slot(
    server: LoopbackServer, other: LoopbackServer
) -> None:
    log: Log = []
    for path in ("/1", "/2"):
        server.routes[path] = _logged(log, "a")
        other.routes[path] = _logged(log, "b")
    urls = [server.url("/1"), server.url("/2"), other.url("/1"), other.url("/2")]
    results = fetch_pages(urls, _config(delay=0.4, concurrency=1))  # one thread for both hosts

    assert [r.reason for r in results] == ["ok"] * 4
    assert [name for name, _, _ in log] == ["a/1", "b/1", "a/2", "b/2"]
    assert log[2][1] - log[0][1] >= 0.4  # each host still waits its delay


def test_fetch_pages_retry_after_defers_the_host_while_others_are_fetched(
    server: LoopbackServer, other: LoopbackServer
) -> None:
    log: Log = []
    server.routes["/busy"] = _logged(log, "a", _sequence((503, {"Retry-After": "1"})))
    server.routes["/next"] = _logged(log, "a")
    other.routes["/1"] = _logged(log, "b")
    other.routes["/2"] = _logged(log, "b")
    urls = [server.url("/busy"), server.url("/next"), other.url("/1"), other.url("/2")]
    busy, nxt, *rest = fetch_pages(urls, _config(retries=1, concurrency=1))

    assert (busy.reason, busy.attempts, busy.defer_host) == ("ok", 2, False)
    assert nxt.ok and all(r.ok for r in rest)
    assert [name for name, _, _ in log] == ["a/busy", "b/1", "b/2", "a/busy", "a/next"]
    assert log[3][1] - log[0][1] >= 1.0  # the host's pages waited for its Retry-After


def test_fetch_pages_throttling_host_trips_the_breaker(server: LoopbackServer) -> None:
    for index in range(3):
        server.routes[f"/{index}"] = Route(b"slow down", 429, {"Retry-After": "0"})
    urls = [server.url(f"/{index}") for index in range(3)]
    results = fetch_pages(urls, _config(retries=0, host_max_failures=2))

    assert [r.reason for r in results] == ["http_429", "http_429", "host_skipped"]
    assert "consecutive failures, last http_429" in (results[2].detail or "")
    assert server.hits.count("/2") == 0


def test_fetch_pages_total_deadline_timeout_is_not_retried(raw: RawServer) -> None:
    response = head(200, [("Content-Type", "text/html"), ("Content-Length", "2")]) + b"ok"
    raw.routes["/slow"] = drip(response, 0.03, raw.stop)  # headers dripped: 2.4 s
    (outcome,) = fetch_pages([raw.url("/slow")], _config(total_timeout=0.4, retries=2))

    assert outcome.reason == "timeout"
    assert "total deadline" in (outcome.detail or "")
    assert outcome.attempts == 1
    assert raw.count("/slow") == 1


def _count_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts the address check resolves, in order."""
    lookups: list[str] = []
    real = netguard.resolve

    def counting(host: str, port: int) -> list[netguard.IPAddress]:
        lookups.append(host)
        return real(host, port)

    monkeypatch.setattr(netguard, "resolve", counting)
    return lookups


def test_fetch_pages_checks_a_hosts_address_once_per_run(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = _count_lookups(monkeypatch)
    for index in range(4):
        server.routes[f"/{index}"] = Route(HTML)
    hosts = HostRegistry(5)
    first = fetch_pages([server.url("/0"), server.url("/1")], _config(), hosts=hosts)
    second = fetch_pages([server.url("/2"), server.url("/3")], _config(), hosts=hosts)

    assert all(r.ok for r in first + second)
    assert lookups == ["127.0.0.1"]


def test_fetch_pages_refused_address_stays_refused_without_another_lookup(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = _count_lookups(monkeypatch)
    server.routes["/a"] = Route(HTML)
    config = _config(network_policy=netguard.NetworkPolicy())  # loopback not allowed
    results = fetch_pages([server.url("/a"), server.url("/b")], config)

    assert [r.reason for r in results] == ["blocked_address"] * 2
    assert len(lookups) == 1
    assert server.hits == []


def test_fetch_pages_reuses_connections_across_batches(server: LoopbackServer) -> None:
    log: Log = []
    for index in range(4):
        server.routes[f"/{index}"] = _logged(log, "a")
    hosts = HostRegistry(5)
    fetch_pages([server.url("/0"), server.url("/1")], _config(), hosts=hosts)
    fetch_pages([server.url("/2"), server.url("/3")], _config(), hosts=hosts)
    hosts.close()

    assert len(log) == 4
    assert len({port for _, _, port in log}) == 1  # one kept-alive connection


class _Counting(threading.Condition):
    """A condition that counts how it is notified."""

    def __init__(self, lock: threading.RLock) -> None:
        super().__init__(lock)
        self.woken: list[str] = []
        self._all = False

    def notify(self, n: int = 1) -> None:
        if not self._all:
            self.woken.append(f"one of {n}")
        super().notify(n)

    def notify_all(self) -> None:
        self.woken.append("all")
        self._all = True
        try:
            super().notify_all()  # calls notify()
        finally:
            self._all = False


def test_host_release_wakes_one_thread_of_each_call_waiting_for_that_host() -> None:
    hosts = HostRegistry(5)
    waiting_a = _Plan({"http://a": deque([_Job(0, "http://a/1")])}, _Counting(hosts.lock))
    waiting_b = _Plan({"http://b": deque([_Job(0, "http://b/1")])}, _Counting(hosts.lock))
    for plan in (waiting_a, waiting_b):
        hosts.watch(plan)
    assert hosts.claim("http://a") == 0.0

    hosts.release("http://a", 1.0)
    hosts.release("http://c", None)  # nobody queues it: nobody is woken

    assert isinstance(waiting_a.wakeup, _Counting) and isinstance(waiting_b.wakeup, _Counting)
    assert (waiting_a.wakeup.woken, waiting_b.wakeup.woken) == (["one of 1"], [])
    hosts.unwatch(waiting_a)
    hosts.release("http://a", None)
    assert waiting_a.wakeup.woken == ["one of 1"]


def test_plan_wakes_every_thread_only_when_its_last_job_is_done() -> None:
    hosts = HostRegistry(5)
    wakeup = _Counting(hosts.lock)
    plan = _Plan({"http://a": deque([_Job(0, "http://a/1"), _Job(1, "http://a/2")])}, wakeup)
    hosts.watch(plan)
    with hosts.lock:
        first = plan.take(hosts)
        assert first is not None and first[1].index == 0
        plan.finished()  # one job over, one still queued: no one needs waking for that
        assert wakeup.woken == ["one of 1"]  # from the take: a job was still queued
        hosts.release("http://a", None)  # the host is free again: one thread is woken for it
        second = plan.take(hosts)
        assert second is not None and second[1].index == 1
        plan.finished()
    assert wakeup.woken == ["one of 1", "one of 1", "all"]
