"""Per-host politeness shared by every worker of one database (``host_slots``): the lease SQL on
SQLite and PostgreSQL, and two worker processes fetching from one loopback host that logs when
each request arrives: with shared slots the gaps across both keep the delay, without them they
do not."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from flows.hostslots import DatabaseSlots, shared_slots
from flows.settings import Settings
from storage import hostslots
from storage.engine import transaction
from storage.migrate import upgrade
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tests.loopback import LoopbackServer

HOST = "http://news.example.test"
DELAY = 0.5
PAGES = 5  # per worker


def _claim(url: str, holder: str, hold: float, host: str = HOST) -> float:
    with transaction(url) as session:
        return hostslots.claim_slot(session, host, holder, hold)


def _release(url: str, holder: str, pause: float, host: str = HOST) -> None:
    with transaction(url) as session:
        hostslots.release_slot(session, host, holder, pause)


def test_claim_slot_gives_a_free_host_to_one_holder(migrated_db: str) -> None:
    assert _claim(migrated_db, "a", 30.0) == 0.0

    wait = _claim(migrated_db, "b", 30.0)

    assert 25.0 < wait <= 30.0  # held while a's request is in flight
    assert _claim(migrated_db, "c", 30.0, host="http://other.test") == 0.0  # hosts are apart


def test_release_slot_frees_the_host_after_the_pause(migrated_db: str) -> None:
    _claim(migrated_db, "a", 30.0)

    _release(migrated_db, "a", DELAY)

    assert 0.0 < _claim(migrated_db, "b", 30.0) <= DELAY
    time.sleep(DELAY + 0.1)
    assert _claim(migrated_db, "b", 30.0) == 0.0


def test_release_slot_leaves_the_turn_of_a_later_holder(migrated_db: str) -> None:
    _claim(migrated_db, "a", 0.1)
    time.sleep(0.2)  # a's lease ran out (a crashed worker, say): b may take the host
    assert _claim(migrated_db, "b", 30.0) == 0.0

    _release(migrated_db, "a", 0.0)  # a comes back late: b's turn stands

    assert _claim(migrated_db, "c", 30.0) > 25.0


def test_claim_slot_concurrent_claims_one_winner(migrated_db: str) -> None:
    barrier = threading.Barrier(6)
    waits: list[float] = []

    def claim(name: str) -> None:
        barrier.wait()
        waits.append(_claim(migrated_db, name, 30.0))

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits)[:2] == [0.0, pytest.approx(30.0, abs=5.0)]
    assert waits.count(0.0) == 1


def test_settings_shared_host_slots_default_on_for_postgresql_only() -> None:
    pg = Settings(database_url="postgresql+psycopg://u@h/db")
    sqlite = Settings(database_url="sqlite:///x.db")

    assert pg.shares_host_slots and not sqlite.shares_host_slots
    assert Settings(database_url="sqlite:///x.db", shared_host_slots="true").shares_host_slots
    assert not Settings(database_url=pg.database_url, shared_host_slots="false").shares_host_slots
    assert isinstance(shared_slots(pg), DatabaseSlots) and shared_slots(sqlite) is None


def test_run_hosts_with_settings_gives_the_registry_its_shared_slots() -> None:
    from flows import runtime

    settings = Settings(database_url="sqlite:///unused.db", shared_host_slots="true")

    with runtime.run_hosts("run-shared", settings):
        registry = runtime.registry_for("run-shared")
        assert isinstance(registry.slots, DatabaseSlots)
    assert "run-shared" not in runtime.active_registries()


def test_database_slots_unreachable_database_falls_back_to_local_turns(
    caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    slots = DatabaseSlots(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")

    assert slots.claim(HOST, 30.0) == 0.0
    slots.release(HOST, DELAY)

    warned = [r for r in caplog.records if "shared host slots unavailable" in r.message]
    assert len(warned) == 1


# --- two worker processes on one loopback host -------------------------------------------------


def _config() -> FetchConfig:
    return FetchConfig(
        user_agent="newsflow-test",
        delay=DELAY,
        retries=0,
        robots=False,
        connect_timeout=2.0,
        total_timeout=5.0,
        network_policy=NetworkPolicy(allow_all=True),
    )


def worker(db_url: str | None, urls: list[str], ready: Any, start: Any, done: Any) -> None:
    """One worker process: fetch ``urls`` politely, with the database's shared slots (or none)."""
    slots = DatabaseSlots(db_url) if db_url else None
    ready.put(True)  # imported: a loaded machine may take seconds to spawn a process
    start.wait(120)
    began = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the machine
    outcomes = fetch_pages(urls, _config(), hosts=HostRegistry(slots=slots))
    done.put((began, [o.reason for o in outcomes]))


Arrivals = list[tuple[float, str]]


def _arrivals(server: LoopbackServer) -> tuple[Arrivals, Callable[..., None]]:
    """A log of (arrival time, path) and ``route(path, body, content_type)`` serving into it."""
    log: Arrivals = []

    def route(path: str, body: bytes = b"ok", content_type: str = "text/html") -> None:
        def handler(request: BaseHTTPRequestHandler) -> None:
            log.append((time.monotonic(), request.path))
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)

        server.routes[path] = handler

    return log, route


def _two_workers(server: LoopbackServer, db_url: str | None) -> Arrivals:
    log, route = _arrivals(server)
    urls = {name: [server.url(f"/{name}/{n}") for n in range(PAGES)] for name in ("a", "b")}
    for paths in urls.values():
        for url in paths:
            route(url.removeprefix(server.base))
    context = multiprocessing.get_context("spawn")
    ready, start, done = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=worker, args=(db_url, paths, ready, start, done))
        for paths in urls.values()
    ]
    for process in processes:
        process.start()
    for _ in processes:  # both processes have imported and wait at the start line
        ready.get(timeout=120)
    start.set()
    results = [done.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    assert [reasons for _, reasons in results] == [["ok"] * PAGES] * 2
    log.sort()
    # Both workers were fetching before the first request's delay was over: each request of the
    # one that went second was held back by the other's turns, not by a late start.
    assert max(began for began, _ in results) < log[0][0] + DELAY - 0.1
    return log


def _gaps(log: Arrivals) -> list[float]:
    return [later[0] - earlier[0] for earlier, later in itertools.pairwise(log)]


def _shared_db(url: str) -> str:
    upgrade(url)
    return url


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_fetch_pages_two_worker_processes_share_the_host_delay(
    dialect: str, server: LoopbackServer, request: pytest.FixtureRequest
) -> None:
    fixture = "sqlite_url" if dialect == "sqlite" else "pg_url"
    url = _shared_db(str(request.getfixturevalue(fixture)))

    log = _two_workers(server, url)

    assert len(log) == 2 * PAGES
    assert min(_gaps(log)) >= DELAY - 0.1, _gaps(log)


def test_fetch_pages_two_worker_processes_without_shared_slots_double_the_rate(
    server: LoopbackServer,
) -> None:
    log = _two_workers(server, None)

    assert len(log) == 2 * PAGES
    assert min(_gaps(log)) < DELAY - 0.1  # what the shared test above rules out


# --- two `newsflow ingest` processes, two sources on one host, one PostgreSQL database ---------

WORDS = " ".join(f"word{i}" for i in range(150))
PAGE_HTML = f"<html><body><article><p>{WORDS}.</p><p>{WORDS}.</p></article></body></html>"


@pytest.mark.slow
def test_cli_two_ingest_processes_on_one_host_keep_one_delay(
    server: LoopbackServer, pg_url: str, tmp_path: Any
) -> None:
    from tests.loopback import rss_feed
    from tests.test_cli_local import NEWSFLOW

    upgrade(pg_url)
    log, route = _arrivals(server)
    route("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
    entries = []
    for name in ("left", "right"):
        links = [server.url(f"/{name}/{n}") for n in range(8)]
        for link in links:
            route(link.removeprefix(server.base), PAGE_HTML.encode())
        route(f"/{name}.xml", rss_feed(name, links), "application/rss+xml")
        entries.append(
            f"  - name: {name}\n    feeds: [{server.url(f'/{name}.xml')}]\n"
            f"    interval: 600\n    delay: {DELAY}\n"
        )
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n" + "".join(entries), encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NEWSFLOW_", "PREFECT_API"))},
        "NEWSFLOW_DATABASE_URL": pg_url,
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_EXTRACT_WORKERS": "0",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
    }
    command = [str(NEWSFLOW), "ingest", "--sources", str(sources)]
    runs = [
        subprocess.Popen([*command, name], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for name in ("left", "right")
    ]
    errors = [run.communicate(timeout=180)[1] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], errors
    log.sort()
    assert len(log) >= 2 * 9  # two feeds and sixteen pages (robots.txt once or twice)
    assert min(_gaps(log)) >= DELAY - 0.1, _gaps(log)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for at, path in log:
        name = path.split("/")[1].removesuffix(".xml")
        first.setdefault(name, at)
        last[name] = at
    # The two runs' requests overlapped in time (each read its feed before the other was done).
    assert max(first["left"], first["right"]) < min(last["left"], last["right"])
