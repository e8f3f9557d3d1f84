"""Crash and resume: ``newsflow ingest`` killed with SIGKILL at random points (seeded; the seed is
printed, ``CRASH_RESUME_SEED`` replays it; a kill point is "after the run requested k pages, plus
a random pause", so kills spread over the run whatever the machine's speed), then run again to
completion, against a slow
loopback site of real corpus pages, on SQLite and on PostgreSQL. Nothing is lost, nothing is
stored twice, no batch is half-written, the killed runs end ``crashed`` and no process of theirs
outlives them."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.engine import transaction
from storage.models import Article, ArticleURL, Fetch, IngestRun, MinhashBand
from tasks.dedup.dedup import BANDS
from tasks.extract.extract import PageInput, extract_page
from tests.loopback import LoopbackServer, Route, rss_feed

pytestmark = pytest.mark.slow

SCRIPTS = Path(sysconfig.get_path("scripts"))  # the venv's console scripts (.venv/bin)
PAGES = 24  # real corpus pages that extract, served under one feed, in batches of 4
PAGE_DELAY = 0.1  # seconds per page: kills land mid-fetch as well as mid-extract and mid-store
KILLS = 5  # per database (a series on a fresh database), then one run to completion
MAX_PAGES_BEFORE_KILL = 10
MAX_PAUSE = 2.0
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


@dataclass(frozen=True)
class Site:
    server: LoopbackServer
    sources: Path
    expected: dict[str, str]  # served URL -> content hash of its extracted text

    def page_requests(self) -> int:
        return sum(hit.startswith("/page/") for hit in self.server.hits)


@pytest.fixture(scope="module")
def site(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The corpus pages that extract to distinct texts, each delayed ``PAGE_DELAY``, and a feed
    listing them all (unchanged for the whole test)."""
    server = LoopbackServer()
    expected: dict[str, str] = {}
    for html in sorted((corpus / "web" / "pages").glob("*/*.html")):
        path = f"/page/{html.parent.name}/{html.stem}"
        result = extract_page(PageInput(server.url(path), html.read_bytes()))
        if result.article is None or result.article.content_hash in expected.values():
            continue
        server.routes[path] = Route(html.read_bytes(), delay=PAGE_DELAY)
        expected[server.url(path)] = result.article.content_hash
        if len(expected) == PAGES:
            break
    server.routes["/rss.xml"] = Route(rss_feed("crash", list(expected)), headers=RSS)
    sources = tmp_path_factory.mktemp("crash") / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: crash\n    feeds: [{server.url('/rss.xml')}]\n    interval: 600\n",
        encoding="utf-8",
    )
    yield Site(server, sources, expected)
    server.close()


@pytest.fixture(scope="module")
def prefect_api() -> str:
    """One Prefect API for every ``newsflow ingest`` child (this session's ephemeral server), so
    each child does not pay for starting and migrating its own."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=180)
    return server.api_url


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def ingest(site: Site, db_url: str, api: str, tmp: Path, name: str) -> subprocess.Popen[bytes]:
    """``newsflow ingest`` in its own process group, its output in ``tmp/<name>.log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env |= {
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_API_URL": api,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "NEWSFLOW_DATABASE_URL": db_url,
        "NEWSFLOW_SOURCES": str(site.sources),
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
        "NEWSFLOW_BATCH_SIZE": "4",
        # A killed run's turn on the shared host slots (on for PostgreSQL) outlives it by the total
        # deadline + 6 connect timeouts (90 s by default); short ones keep 5 kills to minutes.
        "NEWSFLOW_TOTAL_TIMEOUT": "5",
        "NEWSFLOW_CONNECT_TIMEOUT": "1",
    }
    with (tmp / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [str(SCRIPTS / "newsflow"), "ingest"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the extraction workers are in it
        )


def consistency_problems(db_url: str) -> list[str]:
    """What a half-written batch or a double store would leave behind."""
    with transaction(db_url) as session:
        count = session.scalar(select(func.count()).select_from(Article)) or 0
        urls = session.scalar(select(func.count(func.distinct(Article.canonical_url)))) or 0
        texts = session.scalar(select(func.count(func.distinct(Article.content_hash)))) or 0
        checks = {
            "canonical URLs stored twice": count - urls,
            "texts stored twice": count - texts,
            "articles without their page fetch row": session.scalar(
                select(func.count())
                .select_from(Article)
                .where(~select(Fetch.id).where(Fetch.article_id == Article.id).exists())
            ),
            "articles without their canonical URL alias": session.scalar(
                select(func.count())
                .select_from(Article)
                .where(
                    ~select(ArticleURL.url)
                    .where(ArticleURL.article_id == Article.id)
                    .where(ArticleURL.url == Article.canonical_url)
                    .exists()
                )
            ),
            "articles without all their LSH bands": session.scalar(
                select(func.count())
                .select_from(Article)
                .where(
                    select(func.count())
                    .select_from(MinhashBand)
                    .where(MinhashBand.article_id == Article.id)
                    .scalar_subquery()
                    != BANDS
                )
            ),
            "fetch rows of missing articles": session.scalar(
                select(func.count())
                .select_from(Fetch)
                .where(Fetch.article_id.is_not(None))
                .where(~select(Article.id).where(Article.id == Fetch.article_id).exists())
            ),
            "page URLs fetched into the database twice": session.scalar(
                select(func.count()).select_from(
                    select(Fetch.url)
                    .where(Fetch.kind == "page")
                    .group_by(Fetch.url)
                    .having(func.count() > 1)
                    .subquery()
                )
            ),
        }
    return [f"{what}: {n}" for what, n in checks.items() if n]


def article_count(db_url: str) -> int:
    with transaction(db_url) as session:
        return int(session.scalar(select(func.count()).select_from(Article)) or 0)


@dataclass(frozen=True)
class Kill:
    pid: int
    finished: bool  # the run had already exited when the kill came
    stray: list[int]  # processes of its group still alive 20 s after the kill


def kill_run(
    child: subprocess.Popen[bytes], site: Site, pages: int, pause: float, group: bool
) -> Kill:
    """Let ``child`` request ``pages`` more pages, wait ``pause`` seconds, SIGKILL it (its whole
    process group, or only itself), then wait for its group to be gone."""
    seen = site.page_requests()
    wait_for(lambda: site.page_requests() >= seen + pages or child.poll() is not None, 240)
    time.sleep(pause)
    finished = child.poll() is not None
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        if group:
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
    child.wait()
    wait_for(lambda: not group_members(child.pid), 20)
    stray = group_members(child.pid)
    if stray:  # never leave them running, whatever the assertions say
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    return Kill(child.pid, finished, stray)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: test_crash_resume_pg
def test_ingest_killed_at_random_points_resumes_without_loss_or_duplicates(
    migrated_db: str, site: Site, prefect_api: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CRASH_RESUME_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    print(f"\ncrash-resume seed {seed} (CRASH_RESUME_SEED={seed} replays the kill points)")
    killed: list[int] = []
    for trial in range(KILLS):
        group = trial % 2 == 0  # else only the ingest process, as the OOM killer would
        pages, pause = rng.randint(0, MAX_PAGES_BEFORE_KILL), rng.uniform(0, MAX_PAUSE)
        child = ingest(site, migrated_db, prefect_api, tmp_path, f"killed-{trial}")
        kill = kill_run(child, site, pages, pause, group)
        killed.append(kill.pid)
        print(
            f"  trial {trial}: kill {'group' if group else 'pid'} {pause:.2f}s after page "
            f"request {pages}, {'after exit' if kill.finished else 'mid-run'}, "
            f"{article_count(migrated_db)} articles stored"
        )
        assert kill.stray == [], f"seed {seed}, trial {trial}: processes outlived the kill"
        assert consistency_problems(migrated_db) == [], f"seed {seed}, trial {trial}"

    child = ingest(site, migrated_db, prefect_api, tmp_path, "final")
    assert child.wait(timeout=300) == 0, (tmp_path / "final.log").read_text()[-3000:]

    assert consistency_problems(migrated_db) == [], f"seed {seed}"
    with transaction(migrated_db) as session:
        stored = dict(
            session.execute(
                select(ArticleURL.url, Article.content_hash).join(
                    Article, Article.id == ArticleURL.article_id
                )
            ).all()
        )
        runs = dict(session.execute(select(IngestRun.pid, IngestRun.status)).all())
        articles = session.scalar(select(func.count()).select_from(Article))
    assert {url: stored.get(url) for url in site.expected} == site.expected, f"seed {seed}"
    assert articles == len(site.expected), f"seed {seed}"
    assert runs.pop(child.pid) == "completed"
    assert set(runs) <= set(killed)
    assert set(runs.values()) <= {"crashed", "completed"}, f"seed {seed}: {runs}"


def test_extraction_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import time\n"
        "from tasks.extract.extract import PageInput\n"
        "from tasks.extract.workers import ExtractionPool\n"
        "pool = ExtractionPool(1)\n"
        "pool.map([PageInput('http://x.invalid/', b'<html><body><p>hi</p></body></html>')])\n"
        "print(pool.worker_pids()[0], flush=True)\n"
        "time.sleep(600)\n"
    )
    root = Path(__file__).resolve().parent.parent
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker in group_members(parent.pid)

        parent.kill()
        parent.wait()

        assert wait_for(lambda: worker not in group_members(parent.pid), 30)
    finally:
        if group_members(parent.pid):
            os.killpg(parent.pid, signal.SIGKILL)


def test_ingest_failed_batch_leaves_its_feed_to_be_read_again(
    migrated_db: str, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest_news
    from storage import articles
    from tests.loopback import corpus_pages, serve_pages

    for key, value in {
        "NEWSFLOW_DATABASE_URL": migrated_db,
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
    }.items():
        monkeypatch.setenv(key, value)
    server = LoopbackServer()
    try:
        (url,) = serve_pages(server, corpus_pages(corpus, ["al.com/al.com1"]))
        server.routes["/rss.xml"] = Route(rss_feed("one", [url]), headers=RSS)
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: one\n    feeds: [{server.url('/rss.xml')}]\n    interval: 600\n",
            encoding="utf-8",
        )
        store = articles.store_pages

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("database went away")

        monkeypatch.setattr(articles, "store_pages", broken)
        state = ingest_news(sources_path=str(sources), return_state=True)  # Failed: 1 of 1
        reports = state.result(raise_on_failure=False)
        assert isinstance(reports, list)
        (failed,) = reports
        monkeypatch.setattr(articles, "store_pages", store)
        (again,) = ingest_news(sources_path=str(sources))  # the feed itself did not change
    finally:
        server.close()

    assert (failed.status, failed.counts.new) == ("failed", 0)
    assert (again.status, again.counts.feed_items, again.counts.new) == ("completed", 1, 1)
