"""docker-compose.yml without Docker: its services' commands and environments run as local
processes (``postgres`` and ``prefect-server`` mapped to 127.0.0.1, each compose database a fresh
one on the local PostgreSQL): a Prefect server on PostgreSQL, the one-shot deploy, two workers.
Sources on a loopback server share articles and syndicated copies; every flow run completes and
every article is stored once. A flow run whose process is killed (alone, or with its worker) is
never half-written and never left ``running``. Every process and database is removed after."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from flows.deployments import ZOMBIE_AUTOMATION
from storage.engine import dispose_engines, transaction
from storage.models import Article, ArticleURL, IngestRun, Source
from tests.loopback import LoopbackServer, Route, atom_feed, corpus_pages, rss_feed, serve_pages
from tests.test_compose import command, environment
from tests.test_serve import (
    RSS,
    SCRIPTS,
    TERMINAL,
    Processes,
    call,
    clean_env,
    free_port,
    tail,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

ROOT = Path(__file__).resolve().parent.parent
ATOM = {"Content-Type": "application/atom+xml"}
# Eight distinct stories, each in two or more feeds; three also appear as syndicated copies (the
# same page under another URL).
PAGES = [
    "al.com/al.com1",
    "wired.com/wired.com1",
    "nypost.com/nypost.com1",
    "space.com/space.com1",
    "phillyvoice.com/traf-phillyvoice.com-Sixers",
    "politico.com/traf-politico.com.retirement",
    "world.kbs.co.kr/traf-world.kbs.co.kr-Temperatures",
    "tag24.de/traf-d76bb5cda4cd4621a04c1b166d6cad9f",
]
FEEDS = {  # source -> (page indexes, syndicated copies of page indexes)
    "wire-a": ([0, 1, 2, 3], [4]),
    "wire-b": ([2, 3, 4, 5], [0]),
    "wire-c": ([4, 5, 6, 7], []),
    "wire-d": ([6, 7, 0, 1], [6]),
    "wire-e": ([1, 3, 5, 7], []),
    "wire-f": ([0, 2, 4, 6], []),  # an Atom feed
}
# Sources whose last page answers only when the test opens its gate: their flow run is killed
# while it waits, mid-batch.
GATED = {
    "slow-crash": ["blog.gulflive.com/gulflive.com1", "cleveland.com/cleveland.com1"],
    "slow-lost": ["cricket.com.au/cricket.com.au1", "businessweek.com/businessweek.com1"],
}
GATED_PAGE = {
    "slow-crash": "globalnews.ca/globalnews.ca1",
    "slow-lost": "dailycaller.com/dailycaller.com1",
}
# Only to make the test fast and reach the loopback server: fetch politeness off, extraction
# inline, workers polling every 2 s. Everything else is compose's environment.
TEST_ONLY = {
    "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
    "NEWSFLOW_FETCH_DELAY": "0",
    "NEWSFLOW_EXTRACT_WORKERS": "0",
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # Prefect's shortest
}
ZOMBIE_AFTER = 75  # seconds without a heartbeat before the automation crashes a run (deploy step)


@dataclass
class Stack:
    """The compose stack as local processes, and how to reach it."""

    procs: Processes
    tmp: Path
    api: str
    admin: URL
    databases: dict[str, str]  # compose database name -> the fresh local one
    sources: Path
    loopback: LoopbackServer
    gates: dict[str, threading.Event]
    urls: dict[str, list[str]] = field(default_factory=dict)  # source -> its feed's page URLs
    story: dict[str, int] = field(default_factory=dict)  # wire URL -> index in PAGES
    gated: dict[str, str] = field(default_factory=dict)  # gated source -> its gated page's path
    workers: list[Any] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def mark(self, phase: str) -> None:
        """Append the phase's elapsed time to timings.txt (read it when the test is slow)."""
        with (self.tmp / "timings.txt").open("a", encoding="utf-8") as out:
            out.write(f"{time.monotonic() - self.started:7.1f} s  {phase}\n")

    @property
    def news_url(self) -> str:
        return self.localize_url(environment("worker")["NEWSFLOW_DATABASE_URL"])

    def localize_url(self, value: str) -> str:
        url = make_url(value)
        assert url.host == "postgres", value
        return url.set(
            host=self.admin.host,
            port=self.admin.port,
            username=self.admin.username,
            password=self.admin.password,
            database=self.databases[str(url.database)],
        ).render_as_string(hide_password=False)

    def env(self, service: str, home: str) -> dict[str, str]:
        """The service's compose environment, hosts and files mapped to this machine."""
        env = environment(service)
        for key, value in env.items():
            if key.endswith("DATABASE_URL") or key == "PREFECT_API_DATABASE_CONNECTION_URL":
                env[key] = self.localize_url(value)
            elif key == "PREFECT_API_URL":
                env[key] = self.api
            elif key == "NEWSFLOW_SOURCES":
                env[key] = str(self.sources)  # compose mounts ./sources.yaml there
        path = f"{SCRIPTS}{os.pathsep}{os.environ.get('PATH', '')}"
        home_dir = self.tmp / home
        home_dir.mkdir(exist_ok=True)
        return clean_env(PREFECT_HOME=str(home_dir), PATH=path) | env

    def start(
        self,
        service: str,
        name: str,
        extra: dict[str, str] | None = None,
        argv: list[str] | None = None,
    ) -> Any:
        """Start the service's command (or ``argv``) from the repository, the image's /app."""
        argv = argv or command(service)
        program = shutil.which(argv[0], path=f"{SCRIPTS}{os.pathsep}/usr/bin:/bin")
        assert program, argv[0]
        env = self.env(service, f"home-{name}") | (extra or {})
        return self.procs.start([program, *argv[1:]], env, ROOT, self.tmp / f"{name}.log")

    def start_worker(self) -> Any:
        name = f"worker-{len(self.workers) + 1}"
        # No sources file on the workers: the deployments carry their source's entry.
        missing = {"NEWSFLOW_SOURCES": str(self.tmp / "no-sources-on-workers.yaml")}
        self.workers.append(self.start("worker", name, TEST_ONLY | missing))
        return self.workers[-1]


def server_argv_localized(port: int) -> list[str]:
    argv = command("prefect-server")
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    return argv


def gate_route(page_html: bytes, gate: threading.Event) -> Any:
    def handle(request: BaseHTTPRequestHandler) -> None:
        gate.wait(120)
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.send_header("Content-Length", str(len(page_html)))
        request.end_headers()
        request.wfile.write(page_html)

    return handle


def publish(stack: Stack, corpus: Path) -> str:
    """Serve the pages and feeds (recording them in ``stack``); the sources file's text."""
    server = stack.loopback
    pages = corpus_pages(corpus, PAGES)
    urls = list(serve_pages(server, pages))
    syndicated = {}
    for index, page in enumerate(pages):
        path = f"/syndicated.example/story-{index}"
        server.routes[path] = Route(page.html.read_bytes())
        syndicated[index] = server.url(path)
        stack.story |= {urls[index]: index, syndicated[index]: index}
    feeds = stack.urls
    lines = ["sources:"]
    for name, (indexes, copies) in FEEDS.items():
        feeds[name] = [urls[i] for i in indexes] + [syndicated[i] for i in copies]
        body, headers = (
            (atom_feed(name, feeds[name]), ATOM)
            if name == "wire-f"
            else (rss_feed(name, feeds[name]), RSS)
        )
        server.routes[f"/{name}.xml"] = Route(body, headers=headers)
    for name, names in GATED.items():
        gated_page = corpus_pages(corpus, [GATED_PAGE[name]])[0]
        feeds[name] = list(serve_pages(server, corpus_pages(corpus, names)))
        server.routes[gated_page.path] = gate_route(gated_page.html.read_bytes(), stack.gates[name])
        stack.gated[name] = gated_page.path
        feeds[name].append(server.url(gated_page.path))
        server.routes[f"/{name}.xml"] = Route(rss_feed(name, feeds[name]), headers=RSS)
    for index, name in enumerate(feeds):
        lines += [
            f"  - name: {name}",
            f"    feeds: [{server.url(f'/{name}.xml')}]",
            f'    schedule: "{index} 3 * * *"',  # never due during the test
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stack(
    postgres_admin: str, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    import psycopg

    tmp = tmp_path_factory.mktemp("compose")
    suffix = uuid.uuid4().hex[:10]
    databases = {"newsflow": f"newsflow_test_{suffix}", "prefect": f"prefect_test_{suffix}"}
    loopback = LoopbackServer()
    gates = {name: threading.Event() for name in GATED}
    procs = Processes()
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        for name in databases.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        port = free_port()
        stack = Stack(
            procs=procs,
            tmp=tmp,
            api=f"http://127.0.0.1:{port}/api",
            admin=make_url(postgres_admin),
            databases=databases,
            sources=tmp / "sources.yaml",
            loopback=loopback,
            gates=gates,
        )
        stack.sources.write_text(publish(stack, corpus), encoding="utf-8")
        yield from _run_stack(stack, port)
    finally:
        for gate in gates.values():
            gate.set()
        procs.stop_all()
        loopback.close()
        dispose_engines()
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            for name in databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_stack(stack: Stack, port: int) -> Iterator[Stack]:
    log = stack.tmp / "prefect-server.log"
    server = stack.start("prefect-server", "prefect-server", argv=server_argv_localized(port))

    def healthy() -> bool | None:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{tail(log)}")
        try:
            return httpx.get(f"{stack.api}/health", timeout=5).status_code == 200 or None
        except httpx.HTTPError:
            return None

    wait_for(healthy, 150, f"the Prefect server's health endpoint; log:\n{tail(log)}", 1)
    stack.mark("prefect server healthy")
    deploy = stack.start("deploy", "deploy", {"NEWSFLOW_ZOMBIE_AFTER_SECONDS": str(ZOMBIE_AFTER)})
    try:
        deploy.wait(180)
    except Exception:
        pytest.fail(f"deploy did not finish:\n{tail(stack.tmp / 'deploy.log')}")
    assert deploy.returncode == 0, tail(stack.tmp / "deploy.log")
    stack.mark("deploy done")
    stack.start_worker()
    stack.start_worker()
    yield stack


# --- helpers --------------------------------------------------------------------------------------


def deployments(client: httpx.Client) -> dict[str, dict[str, Any]]:
    found = call(client, "POST", "/deployments/filter", json={"limit": 200}).json()
    return {d["name"]: d for d in found}


def trigger(client: httpx.Client, deployment_id: str) -> str:
    return str(
        call(client, "POST", f"/deployments/{deployment_id}/create_flow_run", json={}).json()["id"]
    )


def state_of(client: httpx.Client, run_id: str) -> dict[str, Any]:
    state: dict[str, Any] = call(client, "GET", f"/flow_runs/{run_id}").json()["state"]
    return state


def wait_finished(
    stack: Stack, client: httpx.Client, run_ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    def done() -> dict[str, dict[str, Any]] | None:
        states = {run_id: state_of(client, run_id) for run_id in run_ids}
        return states if all(s["type"] in TERMINAL for s in states.values()) else None

    logs = "\n".join(tail(stack.tmp / f"worker-{i + 1}.log", 15) for i in range(len(stack.workers)))
    return wait_for(done, timeout, f"flow runs {run_ids}; workers:\n{logs}", 1)


def heartbeats(run_id: str) -> dict[str, Any]:
    """The /events/filter body for the flow run's heartbeat events."""
    return {
        "filter": {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "resource": {"id": [f"prefect.flow-run.{run_id}"]},
        },
        "limit": 1,
    }


def runs_of(db_url: str, source: str) -> list[tuple[str | None, str, int | None, Any]]:
    with transaction(db_url) as session:
        rows = session.execute(
            select(IngestRun.flow_run_id, IngestRun.status, IngestRun.pid, IngestRun.finished_at)
            .join(Source, Source.id == IngestRun.source_id)
            .where(Source.name == source)
            .order_by(IngestRun.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def stored_ids(db_url: str, urls: list[str]) -> dict[str, int]:
    """The article each stored URL belongs to (every feed URL is kept as an alias)."""
    with transaction(db_url) as session:
        rows = session.execute(
            select(ArticleURL.url, ArticleURL.article_id).where(ArticleURL.url.in_(urls))
        ).all()
    return {url: article_id for url, article_id in rows}


def ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            break
        pid = int(fields[1])
        chain.append(pid)
    return chain


def worker_logs(stack: Stack) -> list[str]:
    return [
        (stack.tmp / f"worker-{i + 1}.log").read_text(encoding="utf-8", errors="replace")
        for i in range(len(stack.workers))
    ]


@pytest.fixture(scope="module")
def first_round(stack: Stack) -> dict[str, str]:
    """Every wire-* deployment triggered at once and finished: source -> flow run id."""
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        found = deployments(client)
        runs = {name: trigger(client, found[name]["id"]) for name in FEEDS}
        wait_finished(stack, client, list(runs.values()), 180)
    stack.mark(f"{len(runs)} flow runs finished")
    return runs


# --- the stack ------------------------------------------------------------------------------------


def test_deploy_registers_one_deployment_per_source_on_the_process_pool(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        found = deployments(client)
        pool = call(client, "GET", "/work_pools/newsflow").json()
        automations = call(client, "POST", "/automations/filter", json={"limit": 50}).json()
    (zombies,) = automations  # installed by the deploy step
    assert zombies["name"] == ZOMBIE_AUTOMATION and zombies["enabled"]
    assert zombies["trigger"]["posture"] == "Proactive"
    assert zombies["trigger"]["within"] == ZOMBIE_AFTER
    assert [(a["type"], a["state"]) for a in zombies["actions"]] == [
        ("change-flow-run-state", "CRASHED")
    ]
    assert set(found) == set(FEEDS) | set(GATED)
    assert pool["type"] == "process"
    for name, deployment in found.items():
        assert deployment["work_pool_name"] == "newsflow", name
        assert deployment["entrypoint"] == "flows/ingest.py:ingest_news"
        assert deployment["parameters"]["source_names"] == [name]
        (entry,) = deployment["parameters"]["source_entries"]  # workers need no sources file
        assert entry["name"] == name and entry["feeds"] == [stack.loopback.url(f"/{name}.xml")]
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
        ]
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        assert [s["schedule"].get("cron") for s in deployment["schedules"]] == [
            f"{list(stack.urls).index(name)} 3 * * *"
        ]


def test_prefect_ui_is_told_the_api_url_compose_sets(stack: Stack) -> None:
    """The UI's browser code calls the API at the URL the server hands it (PREFECT_UI_API_URL)."""
    ui_settings = httpx.get(stack.api.removesuffix("/api") + "/ui-settings", timeout=30).json()
    assert ui_settings["api_url"] == environment("prefect-server")["PREFECT_UI_API_URL"]
    assert ui_settings["api_url"] == "http://localhost:4200/api"


def test_prefect_server_keeps_its_state_in_its_own_postgres_database(stack: Stack) -> None:
    import psycopg

    prefect_db = stack.admin.set(database=stack.databases["prefect"])
    with psycopg.connect(prefect_db.render_as_string(hide_password=False)) as conn:
        (deployments_in_pg,) = conn.execute("SELECT count(*) FROM deployment").fetchone() or (0,)
    assert deployments_in_pg == len(FEEDS) + len(GATED)


def test_flow_runs_complete_on_both_workers(stack: Stack, first_round: dict[str, str]) -> None:
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        states = {name: state_of(client, run_id) for name, run_id in first_round.items()}
    assert {name: s["type"] for name, s in states.items()} == dict.fromkeys(FEEDS, "COMPLETED")
    # Both workers offer to take each run; the server lets one submit it (the other is told
    # "Aborted submission"), and the run's own log ("View at .../flow-run/<id>") is in its log.
    logs = worker_logs(stack)[:2]
    ran_by = {
        run_id: [i for i, log in enumerate(logs) if f"/flow-run/{run_id}" in log]
        for run_id in first_round.values()
    }
    assert all(len(workers) == 1 for workers in ran_by.values()), ran_by  # each run once
    assert {w for workers in ran_by.values() for w in workers} == {0, 1}, "both workers ran runs"


def test_overlapping_sources_store_every_article_once(
    stack: Stack, first_round: dict[str, str]
) -> None:
    db = stack.news_url
    fed = sorted({u for name in FEEDS for u in stack.urls[name]})
    ids = stored_ids(db, fed)
    assert set(ids) == set(fed), "every URL of every feed is stored"
    # One article per story: a syndicated copy is an alias of its story, not a second article.
    by_story = {
        index: {ids[u] for u in fed if stack.story[u] == index} for index in range(len(PAGES))
    }
    assert all(len(article) == 1 for article in by_story.values()), by_story
    assert len({min(a) for a in by_story.values()}) == len(PAGES)
    with transaction(db) as session:
        wire = (
            select(Article)
            .join(Source, Source.id == Article.source_id)
            .where(Source.name.like("wire-%"))
        )
        articles = session.scalars(wire).all()
        assert len(articles) == len(PAGES)
        assert len({a.content_hash for a in articles}) == len(PAGES)
        assert len({a.canonical_url for a in articles}) == len(PAGES)


def test_every_flow_run_is_one_completed_ingest_run(
    stack: Stack, first_round: dict[str, str]
) -> None:
    db = stack.news_url
    for name, run_id in first_round.items():
        rows = runs_of(db, name)
        assert [(r[0], r[1]) for r in rows] == [(run_id, "completed")], (name, rows)
        assert rows[0][3] is not None
    with transaction(db) as session:
        new = session.scalar(
            select(func.sum(IngestRun.new))
            .join(Source, Source.id == IngestRun.source_id)
            .where(Source.name.like("wire-%"))
        )
    assert new == len(PAGES), "each story counted new by exactly one run"


# --- killed runs ----------------------------------------------------------------------------------


def running_pid(stack: Stack, source: str, run_id: str) -> int:
    """The pid of the flow run's process once it waits mid-batch for the gated page."""
    gated = stack.gated[source]

    def waiting() -> int | None:
        rows = [r for r in runs_of(stack.news_url, source) if r[0] == run_id]
        if rows and rows[0][1] == "running" and gated in stack.loopback.hits:
            return rows[0][2]
        return None

    logs = "\n".join(log[-3000:] for log in worker_logs(stack))
    return wait_for(waiting, 90, f"{source}'s run to wait for its gated page; workers:\n{logs}")


def test_flow_run_killed_alone_is_crashed_and_closed_by_the_next_run(stack: Stack) -> None:
    """kill -9 of a flow run's process (out of memory, say): its worker reports it Crashed, no
    article of the batch is half-written, and the source's next run marks its row crashed."""
    source = "slow-crash"
    db = stack.news_url
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        deployment = deployments(client)[source]
        killed = trigger(client, deployment["id"])
        os.kill(running_pid(stack, source, killed), signal.SIGKILL)

        assert wait_finished(stack, client, [killed], 120)[killed]["type"] == "CRASHED"
        assert stored_ids(db, stack.urls[source]) == {}, "the killed batch left nothing behind"

        stack.gates[source].set()
        after = trigger(client, deployment["id"])
        assert wait_finished(stack, client, [after], 180)[after]["type"] == "COMPLETED"

    stack.mark("flow run killed alone: Crashed, the next run completed")
    rows = runs_of(db, source)
    assert [(r[0], r[1]) for r in rows] == [(killed, "crashed"), (after, "completed")], rows
    assert all(r[3] is not None for r in rows)
    ids = stored_ids(db, stack.urls[source])
    assert set(ids) == set(stack.urls[source]) and len(set(ids.values())) == 3


def test_worker_killed_with_its_run_is_crashed_by_the_automation_and_closed_by_the_next_run(
    stack: Stack,
) -> None:
    """kill -9 of a worker and its flow run (a lost container): nobody is left to report the run,
    so the zombie-run automation `deploy` installed marks it Crashed once its heartbeats stop,
    which frees the source's concurrency slot; nothing is half-written, and the source's next
    deployment run marks our row crashed and stores the pages."""
    source = "slow-lost"
    db = stack.news_url
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        deployment = deployments(client)[source]
        lost = trigger(client, deployment["id"])
        pid = running_pid(stack, source, lost)

        def heartbeat_seen() -> bool | None:  # the automation watches runs from their first one
            found = call(client, "POST", "/events/filter", json=heartbeats(lost)).json()
            return found["total"] > 0 or None

        wait_for(heartbeat_seen, 60, f"a heartbeat event of {lost}", 1)
        (worker,) = [w for w in stack.workers if w.pid in ancestors(pid)]
        os.kill(worker.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        worker.wait(10)
        stack.start_worker()  # compose's restart policy starts a new one

        def crashed() -> bool | None:
            return state_of(client, lost)["type"] == "CRASHED" or None

        wait_for(crashed, ZOMBIE_AFTER + 90, f"the automation to crash {lost}", 2)
        stack.mark("lost run crashed by the zombie-run automation")
        assert [(r[0], r[1]) for r in runs_of(db, source)] == [(lost, "running")]
        assert stored_ids(db, stack.urls[source]) == {}, "the killed batch left nothing behind"

        stack.gates[source].set()
        after = trigger(client, deployment["id"])  # not cancelled: the slot was freed
        assert wait_finished(stack, client, [after], 180)[after]["type"] == "COMPLETED"
    stack.mark("worker killed with its run: Crashed by the automation, the next run closed it")

    rows = runs_of(db, source)
    assert [(r[0], r[1]) for r in rows] == [(lost, "crashed"), (after, "completed")], rows
    assert all(r[3] is not None for r in rows)
    ids = stored_ids(db, stack.urls[source])
    assert set(ids) == set(stack.urls[source]) and len(set(ids.values())) == 3
