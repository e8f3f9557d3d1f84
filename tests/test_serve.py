"""``newsflow serve`` against a real ``prefect server start``: one scheduled deployment per enabled
source, a triggered run that ingests loopback corpus pages into SQLite, and a clean shutdown on
SIGTERM that leaves the schedules active. Every process started here is stopped in teardown."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tasks.dedup.urls import canonicalize_url
from tasks.sources import load_sources
from tests.loopback import LoopbackServer, Route, corpus_pages, rss_feed, serve_pages

pytestmark = pytest.mark.slow

SCRIPTS = Path(sysconfig.get_path("scripts"))  # the venv's console scripts (.venv/bin)
PAGES = ["wired.com/wired.com1", "al.com/al.com1", "nypost.com/nypost.com1"]
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
QUIET = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}

# Started through this launcher, a child has default signal dispositions and an empty signal mask
# even when pytest itself runs with SIGINT ignored (a background job of a non-interactive shell).
_LAUNCH = (
    "import os, signal, sys\n"
    "for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):\n"
    "    signal.signal(sig, signal.SIG_DFL)\n"
    "signal.pthread_sigmask(signal.SIG_SETMASK, [])\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)

T = TypeVar("T")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Prefect or newsflow setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    return env | QUIET | extra


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One Prefect API call, retried while the server answers 5xx (a busy SQLite-backed server
    answers 503 under load) or the connection drops."""
    for attempt in range(10):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 9:
                raise
        else:
            if response.status_code < 500 or attempt == 9:
                response.raise_for_status()
                return response
        time.sleep(1)
    raise AssertionError("unreachable")


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def live_children(pid: int) -> list[int]:
    """PIDs of the live (non-zombie) children of ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process went away while we looked
        if int(fields[1]) == pid and fields[0] not in {"Z", "X"}:
            found.append(int(stat.parent.name))
    return found


class Processes:
    """Subprocesses in their own sessions, each logging to a file; all stopped in teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, *argv],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        """Terminate, kill after ``timeout``, then kill whatever is left in its process group."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # orphaned flow-run subprocesses, if any

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.stop(proc)


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


def write_sources(path: Path, hourly_feed: str, cron_feed: str) -> Path:
    path.write_text(
        "sources:\n"
        "  - name: loop-hourly\n"
        f"    feeds: [{hourly_feed}]\n"
        "    interval: 3600\n"
        "  - name: loop-cron\n"
        f"    feeds: [{cron_feed}]\n"
        '    schedule: "*/5 * * * *"\n'
        "  - name: loop-off\n"
        f"    feeds: [{hourly_feed}]\n"
        "    interval: 600\n"
        "    enabled: false\n",
        encoding="utf-8",
    )
    return path


# --- a. no server: a clear error, exit status 2 -------------------------------------------------


def run_serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    sources = write_sources(
        tmp_path / "sources.yaml", "https://news.example/rss", "https://news.example/cron"
    )
    return subprocess.run(
        [str(SCRIPTS / "newsflow"), "serve", "--sources", str(sources)],
        env=clean_env(
            PREFECT_HOME=str(tmp_path / "prefect-home"),
            NEWSFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'news.db'}",
            **env,
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_without_api_url_says_how_to_start_a_server(tmp_path: Path) -> None:
    done = run_serve(tmp_path)

    message = " ".join(done.stderr.split())
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "PREFECT_API_URL is not set" in message, message
    assert "prefect server start" in message and "PREFECT_API_URL=http://" in message, message
    assert not (tmp_path / "news.db").exists(), "no database is touched before a server answers"


def test_serve_with_no_server_answering_exits_2(tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        api_url = f"http://127.0.0.1:{closed.getsockname()[1]}/api"
        started = time.monotonic()
        done = run_serve(tmp_path, PREFECT_API_URL=api_url)
        elapsed = time.monotonic() - started

    message = " ".join(done.stderr.split())
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"no Prefect server answers at {api_url}" in message, message
    assert "prefect server start" in message, message
    assert elapsed < 30, f"took {elapsed:.1f} s to give up on a refused connection"
    assert not (tmp_path / "news.db").exists()


# --- b. the deployments, built without any API --------------------------------------------------


def test_build_deployments_one_per_enabled_source_without_an_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.deployments.runner import RunnerDeployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.ingest import ingest_news
    from flows.serve import build_deployments

    def no_http(*args: object, **kwargs: object) -> None:
        raise AssertionError("building deployments must not call the Prefect API")

    monkeypatch.setattr(httpx.Client, "send", no_http)
    monkeypatch.setattr(httpx.AsyncClient, "send", no_http)
    path = write_sources(
        tmp_path / "sources.yaml", "https://news.example/rss", "https://news.example/cron"
    )
    with socket.socket() as closed:  # an API URL where nothing answers
        closed.bind(("127.0.0.1", 0))
        api_url = f"http://127.0.0.1:{closed.getsockname()[1]}/api"
        with temporary_settings({PREFECT_API_URL: api_url}):
            deployments = build_deployments(load_sources(path), path)

    assert [d.name for d in deployments] == ["loop-hourly", "loop-cron"]  # not loop-off
    for deployment in deployments:
        assert isinstance(deployment, RunnerDeployment)
        assert deployment.flow_name == "ingest-news"
        assert deployment.parameters == {
            "source_names": [deployment.name],
            "sources_path": str(path),
        }
        ingest_news.validate_parameters(deployment.parameters)  # the flow accepts them
        assert deployment.concurrency_limit == 1
        assert deployment.concurrency_options is not None
        assert deployment.concurrency_options.collision_strategy == (
            ConcurrencyLimitStrategy.CANCEL_NEW
        )
        assert not deployment.paused
        assert len(deployment.schedules or []) == 1
    hourly, cron = (d.schedules[0].schedule for d in deployments if d.schedules)
    assert isinstance(hourly, IntervalSchedule)
    assert hourly.interval == timedelta(seconds=3600)
    assert isinstance(cron, CronSchedule)
    assert cron.cron == "*/5 * * * *"


# --- c. the real thing ----------------------------------------------------------------------------


@pytest.fixture
def prefect_server(processes: Processes, tmp_path: Path) -> str:
    """``prefect server start`` on a free port with its own SQLite home; the API URL."""
    port = free_port()
    home = tmp_path / "server-home"
    home.mkdir()
    log = tmp_path / "prefect-server.log"
    proc = processes.start(
        [str(SCRIPTS / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=clean_env(PREFECT_HOME=str(home)),
        cwd=tmp_path,
        log=log,
    )
    api = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool | None:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited with {proc.returncode}:\n{tail(log)}")
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200 or None
        except httpx.HTTPError:
            return None

    wait_for(healthy, 180, f"the Prefect server's health endpoint; log:\n{tail(log)}")
    return api


@pytest.mark.timeout(180)
def test_serve_schedules_runs_and_stops_cleanly(
    prefect_server: str,
    processes: Processes,
    server: LoopbackServer,
    corpus: Path,
    tmp_path: Path,
) -> None:
    api = prefect_server
    urls = list(serve_pages(server, corpus_pages(corpus, PAGES)))
    server.routes["/rss.xml"] = Route(rss_feed("loop rss", urls), headers=RSS)
    # The cron source reads an empty feed: should "*/5" fire during the test, it stores nothing.
    server.routes["/empty.xml"] = Route(rss_feed("empty", []), headers=RSS)
    sources = write_sources(
        tmp_path / "sources.yaml", server.url("/rss.xml"), server.url("/empty.xml")
    )
    db = tmp_path / "news.db"
    log = tmp_path / "serve.log"
    workdir = tmp_path / "work"  # not the repository: the deployments must not depend on cwd
    workdir.mkdir()
    serve = processes.start(
        [str(SCRIPTS / "newsflow"), "serve", "--sources", str(sources)],
        env=clean_env(
            PREFECT_HOME=str(tmp_path / "serve-home"),
            PREFECT_API_URL=api,
            PREFECT_RUNNER_POLL_FREQUENCY="2",  # pick the triggered run up quickly
            NEWSFLOW_DATABASE_URL=f"sqlite:///{db}",
            NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
            NEWSFLOW_FETCH_DELAY="0",
            NEWSFLOW_EXTRACT_WORKERS="0",
        ),
        cwd=workdir,
        log=log,
    )

    def alive() -> None:
        if serve.poll() is not None:
            pytest.fail(f"newsflow serve exited with {serve.returncode}:\n{tail(log)}")

    with httpx.Client(base_url=api, timeout=30) as client:

        def deployments() -> dict[str, dict[str, Any]]:
            response = call(
                client,
                "POST",
                "/deployments/filter",
                json={"flows": {"name": {"any_": ["ingest-news"]}}},
            )
            return {d["name"]: d for d in response.json()}

        def both_served() -> dict[str, dict[str, Any]] | None:
            alive()
            found = deployments()
            ready = set(found) == {"loop-hourly", "loop-cron"}
            return found if ready and all(d["schedules"] for d in found.values()) else None

        served = wait_for(both_served, 30, f"the deployments; serve log:\n{tail(log)}")

        assert "loop-off" not in served  # disabled sources are not deployed
        hourly, cron = served["loop-hourly"], served["loop-cron"]
        for name, deployment in served.items():
            assert deployment["paused"] is False, name
            assert deployment["parameters"] == {
                "source_names": [name],
                "sources_path": str(sources.resolve()),
            }
            assert len(deployment["schedules"]) == 1, deployment["schedules"]
            assert deployment["schedules"][0]["active"] is True
            assert deployment["global_concurrency_limit"]["limit"] == 1
            assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        assert hourly["schedules"][0]["schedule"]["interval"] == 3600
        assert cron["schedules"][0]["schedule"]["cron"] == "*/5 * * * *"
        assert f"serving 2 deployment(s) against {api}" in log.read_text(encoding="utf-8")

        created = call(client, "POST", f"/deployments/{hourly['id']}/create_flow_run", json={})
        run_id = created.json()["id"]

        def finished() -> dict[str, Any] | None:
            alive()
            response = call(client, "GET", f"/flow_runs/{run_id}")
            state: dict[str, Any] = response.json()["state"]
            return state if state["type"] in TERMINAL else None

        state = wait_for(finished, 45, f"flow run {run_id} to finish; serve log:\n{tail(log)}")
        assert state["type"] == "COMPLETED", (state, tail(log))

        with closing(sqlite3.connect(db)) as conn:
            stored = {row[0] for row in conn.execute("SELECT canonical_url FROM articles")}
            runs = conn.execute(
                "SELECT s.name, r.status, r.new, r.finished_at FROM ingest_runs r"
                " JOIN sources s ON s.id = r.source_id WHERE r.flow_run_id = ?",
                (run_id,),
            ).fetchall()
        assert stored == {canonicalize_url(u) or u for u in urls}
        assert len(runs) == 1, runs
        name, status, new, finished_at = runs[0]
        assert (name, status, new) == ("loop-hourly", "completed", 3)
        assert finished_at is not None
        assert {"/rss.xml", *(u.removeprefix(server.base) for u in urls)} <= set(server.hits)

        # The run's state is COMPLETED a moment before its subprocess exits; a SIGTERM in that
        # moment makes the runner cancel it. Wait until the runner has no child left.
        if Path("/proc/self/stat").exists():
            wait_for(
                lambda: None if live_children(serve.pid) else True,
                30,
                "the flow-run subprocess to exit",
            )
        else:  # pragma: no cover - not Linux
            time.sleep(5)

        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"newsflow serve ignored SIGTERM for 20 s:\n{tail(log)}")
        assert serve.returncode == 0, tail(log)
        assert "Pausing all deployments" not in log.read_text(encoding="utf-8")

        after = deployments()
        assert {n: d["paused"] for n, d in after.items()} == {
            "loop-hourly": False,
            "loop-cron": False,
        }, "pause_on_shutdown=False: a restart must find the schedules active"
        assert all(d["schedules"][0]["active"] for d in after.values())
        final = call(client, "GET", f"/flow_runs/{run_id}").json()["state"]
        assert final["type"] == "COMPLETED", final
