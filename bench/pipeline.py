"""End-to-end ingest throughput: the ingest-news flow against plain requests + trafilatura on the
same loopback news site, on SQLite and PostgreSQL, with memory and the cost of a no-change run.

Usage: .venv/bin/python bench/pipeline.py [--quick] [--pages N] [--hosts H] [--idle-runs R]
                                          [--many-pages M] [--many-hosts K] [--feeds F]
                                          [--scenario few|many|both] [--pg-url URL] [--no-pg]

Two scenarios, each with its own site and baseline. **few hosts**: the site (a child process, H
loopback ports = H hosts, one RSS feed and one source each) serves N pages,
NEWSFLOW_FETCH_DELAY=0. **many hosts**: M pages on K hosts (at most 3 pages each, K >= 300), each
host with a robots.txt, listed by F feeds on a host of their own (one source each), with the default
politeness (1 s between two requests to a host) and robots.txt on.

The site serves N
pages made from the real corpus pages (web/pages, extraction-dev, fundus): every page is served
under several URLs, and each copy after the first gets a sentence of its own ("Edition k of this
report.") at the start of its first long paragraph, so the copies are distinct articles with
near-identical text (newsflow stores them and links them as near-duplicates). Pages whose
paragraph markup the insertion cannot find stay exact copies; the stored-article count says how
many were distinct. The flow runs in a child process (so its RSS and its extraction workers' RSS
can be sampled) against one Prefect API server started here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_RATIO, GOAL_RSS_MB, GOAL_FLAT = 0.85, 400, 0.10
PLAIN_WORKERS_PEAK = 0  # bytes: the plain pool's two workers' summed RSS at its peak
PROFILE = ""  # --profile: the flow children run under py-spy, their samples written here
CORPUS = Path(os.environ.get("NEWSFLOW_CORPUS") or ROOT.parent / "shared" / "corpus")
_PARAGRAPH = re.compile(rb"<p\b[^>]*>(?=[^<]{120,})")
TRAFILATURA = {"with_metadata": True, "include_comments": False, "include_tables": True}


# --- the site -----------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    files = sorted((CORPUS / "web" / "pages").glob("*/*.html"))
    files += sorted((CORPUS / "extraction-dev" / "html").glob("*.html.gz"))
    files += sorted((CORPUS / "fundus").glob("*/*.html.gz"))
    if not files:
        raise SystemExit(f"no corpus pages under {CORPUS}")
    return files


def read_page(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def variant(html: bytes, k: int) -> bytes:
    """Copy ``k`` of a page: copy 0 as is, later ones with a sentence of their own."""
    match = _PARAGRAPH.search(html) if k else None
    if match is None:
        return html
    return html[: match.end()] + b"Edition %d of this report. " % k + html[match.end() :]


def plan(pages: int, hosts: int) -> list[tuple[int, str, Path, int]]:
    """(host index, path, corpus file, copy number) for every page of the site."""
    files = corpus_files()
    out = []
    for i in range(pages):
        path = files[i % len(files)]
        copy = i // len(files)
        name = re.sub(r"[^A-Za-z0-9]+", "-", path.name.removesuffix(".gz"))
        out.append((i % hosts, f"/c{copy}/{path.parent.name}/{name}", path, copy))
    return out


ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def serve(pages: int, hosts: int, feeds: int) -> None:
    """The site's process: H servers (ports) with their pages; one feed on each (``feeds`` 0),
    or ``feeds`` feeds on the first F servers, each listing pages of every host, and a
    robots.txt on every server. Prints the feeds' URLs and the pages' URLs by host."""
    from bench.fetch import page_handler
    from tests.loopback import LoopbackServer, Route, rss_feed

    servers = [LoopbackServer() for _ in range(hosts)]
    links: dict[int, list[str]] = defaultdict(list)
    listed: dict[int, list[str]] = defaultdict(list)
    for index, (host, path, file, copy) in enumerate(plan(pages, hosts)):
        body = variant(read_page(file), copy)
        servers[host].routes[path] = page_handler(body, gzip.compress(body, 6, mtime=0))
        links[host].append(servers[host].url(path))
        listed[index % feeds if feeds else host].append(servers[host].url(path))
    rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
    for feed in range(feeds or hosts):
        body = rss_feed(f"feed {feed}", listed[feed])
        servers[feed].routes["/feed.xml"] = Route(body, headers=rss)
    if feeds:
        for server in servers:
            server.routes["/robots.txt"] = Route(ROBOTS, headers={"Content-Type": "text/plain"})
    urls = [f"{server.base}/feed.xml" for server in servers[: feeds or hosts]]
    print(json.dumps({"feeds": urls, "urls": links}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    os._exit(0)  # closing hundreds of servers one by one takes half a second each


# --- plain requests + trafilatura ---------------------------------------------------------------


def plain_extract(item: tuple[str, bytes]) -> bool:
    import trafilatura

    url, html = item
    doc = trafilatura.bare_extraction(html, url=url, favor_precision=True, **TRAFILATURA)
    return doc is not None


def plain_pipeline(urls: dict[int, list[str]]) -> tuple[float, int, float]:
    """A thread and a requests session per host, pages extracted in a 2-process pool as they
    arrive; returns (seconds, pages extracted, CPU seconds of the pool's workers)."""
    import resource

    import requests

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        futures = []
        lock = threading.Lock()
        stop = threading.Event()

        def sample() -> None:
            global PLAIN_WORKERS_PEAK
            while not stop.wait(0.2):
                pids = list(getattr(pool, "_processes", None) or {})
                now = sum(_kb(pid, "status", "VmRSS") for pid in pids)
                PLAIN_WORKERS_PEAK = max(PLAIN_WORKERS_PEAK, now)

        threading.Thread(target=sample, daemon=True).start()

        def fetch_host(host_urls: list[str]) -> None:
            with requests.Session() as session:
                for url in host_urls:
                    body = session.get(url, timeout=30).content
                    with lock:
                        futures.append(pool.submit(plain_extract, (url, body)))

        with ThreadPoolExecutor(len(urls)) as threads:
            list(threads.map(fetch_host, urls.values()))
        ok = sum(f.result() for f in futures)
        stop.set()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, waited for
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, ok, cpu


# --- the flow, in a child process ---------------------------------------------------------------


def run_flow(sources: str, idle_runs: int) -> None:
    """Child: ingest once (timed), then ``idle_runs`` runs of the unchanged sources."""
    from flows.ingest import ingest_news
    from flows.runtime import shutdown_pool

    stop = threading.Event()
    if os.environ.get("BENCH_TRACEMALLOC"):  # diagnosis: where the ingest process's heap peaks
        threading.Thread(target=_trace_heap, args=(stop,), daemon=True).start()
    starved = [0, 0]  # samples with a ready worker idle and no page queued; all samples
    threading.Thread(target=_watch_pool, args=(stop, starved), daemon=True).start()
    start, cpu = time.perf_counter(), time.process_time()
    reports = ingest_news(sources_path=sources)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    stop.set()
    time.sleep(1.5 if os.environ.get("BENCH_TRACEMALLOC") else 0)
    workers = children_cpu(os.getpid())
    from flows import runtime

    started = len(runtime._pool.started_pids) if runtime._pool is not None else 0
    counts = {k: sum(getattr(r.counts, k) for r in reports) for k in ("fetched", "new", "failed")}
    counts |= {"duplicates": sum(r.counts.duplicates for r in reports)}
    statuses = sorted({r.status for r in reports})
    emit(
        {"ingest": seconds, "cpu": cpu, "workers": workers, "counts": counts, "statuses": statuses}
        | {"starved": starved[0] / max(1, starved[1]), "started": started}
    )
    for i in range(idle_runs):
        start, cpu, workers = time.perf_counter(), time.process_time(), children_cpu(os.getpid())
        again = ingest_news(sources_path=sources)
        work = sum(r.counts.fetched + r.counts.new for r in again)
        cpu = time.process_time() - cpu + children_cpu(os.getpid()) - workers
        emit(
            {
                "idle": i,
                "seconds": time.perf_counter() - start,
                "cpu": cpu,
                "rss": tree_rss(os.getpid()),
            }
        )
        if work:
            raise SystemExit(f"an unchanged source did work: {again}")
    shutdown_pool()


def _trace_heap(stop: threading.Event) -> None:
    """``BENCH_TRACEMALLOC=1``: trace Python allocations; at the traced peak, keep the biggest
    allocation sites; print them when the ingest ends (slow: for diagnosis only)."""
    import tracemalloc

    tracemalloc.start(8)
    best, top = 0, []
    while not stop.wait(1.0):
        current = tracemalloc.get_traced_memory()[0]
        if current > best * 1.05:
            best = current
            top = tracemalloc.take_snapshot().statistics("traceback")[:12]
    print(f"traced Python heap at its peak: {best / 2**20:.0f} MB; largest sites:", flush=True)
    for stat in top:
        frames = " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback)
        print(f"  {stat.size / 2**20:7.1f} MB {stat.count:7d} blocks  {frames}", flush=True)


def _watch_pool(stop: threading.Event, starved: list[int]) -> None:
    """Every 50 ms, from the first page queued until the run ends: is a warmed-up worker idle
    with no page queued (the pool starved: nothing fetched to extract)? Reads the pool's private
    state (a measurement, not an API); not load-dependent the way CPU shares are."""
    from flows import runtime

    begun = False
    while not stop.wait(0.05):
        pool = runtime._pool
        if pool is None:
            continue
        workers, queued = list(pool._workers), len(pool._queue)
        busy = sum(w.job is not None for w in workers)
        begun = begun or bool(queued or busy)
        if not begun:
            continue
        idle = sum(w.ready and w.job is None for w in workers)
        starved[0] += idle > 0 and queued == 0
        starved[1] += 1


def run_plain_steps(sources: str) -> None:
    """Child: the same steps' plain functions (``.fn``) in the flow's shape, without Prefect
    (``flows.ingest.ingest_locally``: the flow's body with plain calls in a thread pool)."""
    from flows import runtime
    from flows.ingest import ingest_locally, resolve_sources
    from flows.settings import Settings

    settings = Settings()
    start = time.perf_counter()
    reports = ingest_locally(settings, resolve_sources(settings, None, sources))
    new = sum(r.counts.new for r in reports)
    emit({"plain_steps": time.perf_counter() - start, "new": new})
    runtime.shutdown_pool()


def children_cpu(pid: int) -> float:
    """CPU seconds of this process's children: the exited ones (waited for) and the live ones."""
    import resource

    gone = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = os.sysconf("SC_CLK_TCK")
    live = [f for f in proc_stats().values() if int(f[1]) == pid]  # utime, stime: fields 14, 15
    return gone.ru_utime + gone.ru_stime + sum((int(f[11]) + int(f[12])) / tick for f in live)


def proc_stats() -> dict[int, list[str]]:
    """Every process's ``/proc/PID/stat`` fields after its name (Linux): [0] is field 3, the
    state; [1] the parent's pid."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
    return stats


def emit(record: dict[str, Any]) -> None:
    print("BENCH " + json.dumps(record), flush=True)


def tree_rss(pid: int) -> tuple[int, int]:
    """Resident bytes of ``pid`` and all its descendants (Linux /proc): the sum of their RSS,
    which counts pages shared between them (a fork server's imports) once per process, and of
    their PSS, which splits shared pages between the processes sharing them."""
    parents = {p: int(fields[1]) for p, fields in proc_stats().items()}
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier += children
    return sum(_kb(p, "status", "VmRSS") for p in tree), sum(
        _kb(p, "smaps_rollup", "Pss") for p in tree
    )


def _kb(pid: int, name: str, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return 0
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def child(mode: str, env: dict[str, str], sources: Path, idle_runs: int) -> dict[str, Any]:
    """Run this script as ``mode`` in a child; sample its tree's RSS; collect its records."""
    cmd = [sys.executable, __file__, f"--{mode}", str(sources), "--idle-runs", str(idle_runs)]
    if PROFILE and mode == "flow":  # py-spy runs the child: the tree's figures include py-spy
        out = f"{PROFILE}-{len(list(Path(PROFILE).parent.glob(Path(PROFILE).name + '-*')))}.txt"
        spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--subprocesses"]
        cmd = [*spy, "-r", "50", "--format", "raw", "--nonblocking", "-o", out, "--", *cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    peak, peak_pss, peak_own, peak_anon, records = 0, 0, 0, 0, []
    sampler_stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss, peak_own, peak_anon
        while not sampler_stop.is_set():
            rss, pss = tree_rss(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            peak_own = max(peak_own, _kb(proc.pid, "status", "VmRSS"))
            peak_anon = max(peak_anon, _kb(proc.pid, "smaps_rollup", "Anonymous"))
            sampler_stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("BENCH "):
            records.append(json.loads(line[6:]))
    sampler_stop.set()
    if proc.wait() != 0:
        raise SystemExit(f"{mode} child failed ({proc.returncode})")
    return {
        "peak_rss": peak,
        "peak_pss": peak_pss,
        "peak_own": peak_own,
        "peak_anon": peak_anon,
        "records": records,
    }


# --- main ---------------------------------------------------------------------------------------


def write_sources(path: Path, feeds: list[str]) -> Path:
    lines = ["sources:"]
    for i, feed in enumerate(feeds):
        lines += [f"  - name: source{i}", f"    feeds: [{feed}]", "    interval: 600"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored(db_url: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from storage.engine import transaction
    from storage.models import Article

    with transaction(db_url) as session:
        count = session.scalar(select(func.count()).select_from(Article)) or 0
        roots = session.scalar(
            select(func.count()).select_from(Article).where(Article.duplicate_of.is_(None))
        )
    return int(count), int(roots or 0)


def pg_database(admin: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"newsflow_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(drivername="postgresql+psycopg", database=name)
    return name, url.render_as_string(hide_password=False)


def drop_pg(admin: str, name: str) -> None:
    import psycopg

    from storage.engine import dispose_engines

    dispose_engines()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_flow(
    label: str, db_url: str, env: dict[str, str], src: Path, idle: int
) -> dict[str, float]:
    """Ingest into ``db_url`` in a child, then ``idle`` no-change runs; what was measured."""
    from storage.migrate import upgrade

    upgrade(db_url)
    out = child("flow", env | {"NEWSFLOW_DATABASE_URL": db_url}, src, idle)
    first, idles = out["records"][0], out["records"][1:]
    articles, roots = stored(db_url)
    rate = articles / first["ingest"]
    print(f"\n[{label}] flow: {first['ingest']:.1f} s, {rate:.1f} articles/s; {first['counts']}")
    print(f"  stored {articles} articles ({roots} distinct stories), statuses {first['statuses']}")
    fetched = max(1, first["counts"]["fetched"])
    pages = fetched / first["ingest"]
    print(f"  {pages:.1f} pages/s fetched and extracted (exact duplicates store no article)")
    share = first["cpu"] / first["ingest"]
    busy = first["workers"] / first["ingest"]
    print(f"  CPU of the ingest process itself: {share:.0%} of one core; of its extraction")
    print(f"    workers: {busy:.0%} of one core (baseline workers: 2 x 100% less waiting)")
    print(f"  pool starved (a worker idle, no page queued): {first['starved']:.0%} of the time")
    cpu_ms = (first["cpu"] + first["workers"]) / fetched * 1000
    print(f"  CPU per page: {cpu_ms:.1f} ms ({first['cpu'] / fetched * 1000:.1f} ms in the ingest")
    print(f"    process, {first['workers'] / fetched * 1000:.1f} ms in its workers)")
    rss, pss = out["peak_rss"] / 2**20, out["peak_pss"] / 2**20
    own = out["peak_own"] / 2**20
    anon = out["peak_anon"] / 2**20
    print(f"  peak RSS of the ingest process alone: {own:.0f} MB (its workers: the rest); its")
    print(f"    peak anonymous memory (heap, not mapped files): {anon:.0f} MB")
    print(f"  extraction workers started: {first['started']} (recycled: the rest beyond the pool)")
    print(
        f"  peak memory of the ingest process and its children: RSS {rss:.0f} MB, PSS {pss:.0f} MB"
    )
    result = {"pages": pages, "articles": rate, "seconds": first["ingest"], "cpu_ms": cpu_ms}
    result |= {"rss": rss, "idle_s": float("nan"), "idle_cpu": float("nan")}
    if idles:
        _idle_report(idles, result)
    return result


def _idle_report(idles: list[dict[str, Any]], result: dict[str, float]) -> None:
    rss = [r["rss"][0] / 2**20 for r in idles]
    cost = sorted(r["seconds"] for r in idles)[len(idles) // 2]
    cpu = sorted(r["cpu"] for r in idles)[len(idles) // 2]
    result |= {"idle_s": cost, "idle_cpu": cpu}
    change = (rss[-1] - rss[0]) / rss[0]
    rise = max((later - min(rss[: i + 1])) / min(rss[: i + 1]) for i, later in enumerate(rss))
    verdict = "goal met" if rise <= GOAL_FLAT else "goal missed"
    print(f"  {len(idles)} no-change runs: median {cost:.2f} s and {cpu:.2f} s of CPU each (the")
    print(f"    ingest process and its workers); RSS first {rss[0]:.0f} MB,")
    print(f"    max {max(rss):.0f} MB, last {rss[-1]:.0f} MB ({change:+.1%}); largest rise over")
    print(f"    an earlier run's RSS: {rise:+.1%} ({verdict}: no growth above 10 %)")
    step = max(1, len(rss) // 10)
    print(
        "    RSS after runs "
        + ", ".join(f"{i + 1}: {rss[i]:.0f}" for i in range(0, len(rss), step))
    )


@dataclass(frozen=True)
class Scenario:
    label: str
    pages: int
    hosts: int
    feeds: int  # 0: one feed per host
    env: dict[str, str]  # on top of the common environment


def run_scenario(
    scenario: Scenario, env: dict[str, str], tmp: Path, args: argparse.Namespace
) -> list[str]:
    """One site, its baseline and the flow on it (SQLite, then PostgreSQL unless ``--no-pg``);
    the summary lines."""
    cmd = [sys.executable, __file__, "--serve", "--pages", str(scenario.pages)]
    cmd += ["--hosts", str(scenario.hosts), "--feeds", str(scenario.feeds)]
    site = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    env = env | scenario.env | {"NEWSFLOW_MAX_ITEMS_PER_SOURCE": str(scenario.pages)}
    work = tmp / scenario.label
    work.mkdir()
    try:
        assert site.stdout is not None
        info = json.loads(site.stdout.readline())
        urls = {int(k): v for k, v in info["urls"].items()}
        src = write_sources(work / "sources.yaml", info["feeds"])
        most = max(len(v) for v in urls.values())
        print(f"\n=== {scenario.label}: {scenario.pages} pages on {scenario.hosts} loopback hosts")
        print(f"    (at most {most} a host), {len(info['feeds'])} feeds and sources; environment")
        print(f"    {scenario.env}")
        plain_extract(("http://warm.up/", b"<html><body><p>warm</p></body></html>"))
        seconds, ok, plain_cpu = plain_pipeline(urls)
        base, base_ms = ok / seconds, plain_cpu / max(1, ok) * 1000
        print(f"\nplain requests + trafilatura, 2-process pool: {seconds:.1f} s, {ok} pages")
        print(f"  extracted, {base:.1f} pages/s (baseline); {base_ms:.1f} ms of CPU a page in")
        print(f"  trafilatura's workers; their peak RSS: {PLAIN_WORKERS_PEAK / 2**20:.0f} MB")
        db = f"sqlite:///{work}/flow.db"
        results = {"sqlite": bench_flow("sqlite", db, env, src, args.idle_runs)}
        if not args.no_pg:
            admin = args.pg_url or "postgresql://postgres@127.0.0.1:5432/postgres"
            name, url = pg_database(admin)
            try:
                results["postgresql"] = bench_flow("postgresql", url, env, src, 0)
            finally:
                drop_pg(admin, name)
        if scenario.label == "few hosts":
            _prefect_share(env, work, src, results["sqlite"]["seconds"])
    finally:
        assert site.stdin is not None
        site.stdin.close()
        site.wait(timeout=60)
    lines = []
    for label, got in results.items():
        ratio, cpu = got["pages"] / base, got["cpu_ms"] / base_ms
        lines.append(
            f"  {scenario.label}, {label}: {got['pages']:.1f} vs {base:.1f} pages/s, ratio"
            f" {ratio:.2f} ({'met' if ratio >= GOAL_RATIO else 'missed'}, >= {GOAL_RATIO});"
            f" CPU/page {got['cpu_ms']:.1f} vs {base_ms:.1f} ms ({cpu:.2f}x, goal <= 1.25x);"
            f" peak tree RSS {got['rss']:.0f} MB (goal <= {GOAL_RSS_MB});"
            f" no-change run {got['idle_s']:.2f} s, {got['idle_cpu']:.2f} s CPU"
        )
    return lines


def _prefect_share(env: dict[str, str], work: Path, src: Path, flow_s: float) -> None:
    plain_db = {"NEWSFLOW_DATABASE_URL": f"sqlite:///{work}/plain.db"}
    plain = child("plain-steps", env | plain_db, src, 0)["records"][0]
    print(f"\nsame steps, no Prefect (sqlite): {plain['plain_steps']:.1f} s, {plain['new']} new")
    print(f"  Prefect's share of the flow's wall time: {1 - plain['plain_steps'] / flow_s:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="400 pages, 10 no-change runs")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--many-pages", type=int, default=900)
    parser.add_argument("--many-hosts", type=int, default=300)
    parser.add_argument("--feeds", type=int, default=12, help="feeds of the many-hosts site")
    parser.add_argument("--scenario", choices=["few", "many", "both"], default="both")
    parser.add_argument("--idle-runs", type=int, default=50)
    parser.add_argument("--pg-url", default=os.environ.get("NEWSFLOW_TEST_PG_URL"))
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument(
        "--profile",
        default="",
        help="run each flow child under py-spy (raw samples to PROFILE-N.txt; slower, and the"
        " tree's RSS then includes py-spy)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flow", help=argparse.SUPPRESS)
    parser.add_argument("--plain-steps", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if args.quick:
        args.pages, args.idle_runs = min(args.pages, 400), min(args.idle_runs, 10)
        args.many_pages = min(args.many_pages, 400)
    if args.serve:
        return serve(args.pages, args.hosts, args.feeds)
    if args.flow:
        return run_flow(args.flow, args.idle_runs)
    if args.plain_steps:
        return run_plain_steps(args.plain_steps)
    if args.many_pages > 3 * args.many_hosts or args.many_hosts < 300:
        raise SystemExit("the many-hosts site has at least 300 hosts, at most 3 pages each")
    tmp = Path(tempfile.mkdtemp(prefix="newsflow-bench-pipeline-"))
    os.environ["PREFECT_HOME"] = str(tmp / "prefect")
    os.environ |= {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    from prefect.server.api.server import SubprocessASGIServer

    api = SubprocessASGIServer()
    api.start(timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env |= {
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_API_URL": api.api_url,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
    }
    scenarios = []
    if args.scenario in ("few", "both"):
        delay = {"NEWSFLOW_FETCH_DELAY": "0"}
        scenarios.append(Scenario("few hosts", args.pages, args.hosts, 0, delay))
    if args.scenario in ("many", "both"):  # default politeness: 1 s delay, robots.txt on
        scenarios.append(Scenario("many hosts", args.many_pages, args.many_hosts, args.feeds, {}))
    print(f"corpus: {len(corpus_files())} pages; copies get a sentence of their own")
    try:
        summary = [line for sc in scenarios for line in run_scenario(sc, env, tmp, args)]
    finally:
        api.stop()
    print("\nsummary (newsflow's pages/s: fetched, extracted, deduplicated, stored or linked; the")
    print("baseline's: fetched and extracted, same pages; CPU: ingest process + its workers)")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
