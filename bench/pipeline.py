"""End-to-end ingest throughput: the ingest-news flow against plain requests + trafilatura on the
same loopback news site, on SQLite and PostgreSQL, with memory and the cost of a no-change run.

Usage: .venv/bin/python bench/pipeline.py [--quick] [--pages N] [--hosts H] [--idle-runs R]
                                          [--pg-url URL] [--no-pg]

The site (a child process, H loopback ports = H hosts, one RSS feed and one source each) serves N
pages made from the real corpus pages (web/pages, extraction-dev, fundus): every page is served
under several URLs, and each copy after the first gets a sentence of its own ("Edition k of this
report.") at the start of its first long paragraph, so the copies are distinct articles with
near-identical text (newsflow stores them and links them as near-duplicates). Pages whose
paragraph markup the insertion cannot find stay exact copies; the stored-article count says how
many were distinct. The flow runs in a child process (so its RSS and its extraction workers' RSS
can be sampled) against one Prefect API server started here, NEWSFLOW_FETCH_DELAY=0.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_RATIO, GOAL_RSS_MB, GOAL_FLAT = 0.85, 400, 0.10
PLAIN_WORKERS_PEAK = 0  # bytes: the plain pool's two workers' summed RSS at its peak
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


def serve(pages: int, hosts: int) -> None:
    """The site's process: H servers (ports), pages and one feed each; prints the bases."""
    from bench.fetch import page_handler
    from tests.loopback import LoopbackServer, Route, rss_feed

    servers = [LoopbackServer() for _ in range(hosts)]
    links: dict[int, list[str]] = defaultdict(list)
    for host, path, file, copy in plan(pages, hosts):
        body = variant(read_page(file), copy)
        servers[host].routes[path] = page_handler(body, gzip.compress(body, 6, mtime=0))
        links[host].append(servers[host].url(path))
    rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
    for host, server in enumerate(servers):
        server.routes["/feed.xml"] = Route(rss_feed(f"host {host}", links[host]), headers=rss)
    print(json.dumps({"bases": [s.base for s in servers], "urls": links}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    for server in servers:
        server.close()


# --- plain requests + trafilatura ---------------------------------------------------------------


def plain_extract(item: tuple[str, bytes]) -> bool:
    import trafilatura

    url, html = item
    doc = trafilatura.bare_extraction(html, url=url, favor_precision=True, **TRAFILATURA)
    return doc is not None


def plain_pipeline(urls: dict[int, list[str]]) -> tuple[float, int]:
    """A thread and a requests session per host, pages extracted in a 2-process pool as they
    arrive; returns (seconds, pages extracted)."""
    import requests

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
    return time.perf_counter() - start, ok


# --- the flow, in a child process ---------------------------------------------------------------


def run_flow(sources: str, idle_runs: int) -> None:
    """Child: ingest once (timed), then ``idle_runs`` runs of the unchanged sources."""
    from flows.ingest import ingest_news
    from flows.runtime import shutdown_pool

    start, cpu = time.perf_counter(), time.process_time()
    reports = ingest_news(sources_path=sources)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    workers = children_cpu(os.getpid())
    counts = {k: sum(getattr(r.counts, k) for r in reports) for k in ("fetched", "new", "failed")}
    counts |= {"duplicates": sum(r.counts.duplicates for r in reports)}
    statuses = sorted({r.status for r in reports})
    emit(
        {"ingest": seconds, "cpu": cpu, "workers": workers, "counts": counts, "statuses": statuses}
    )
    for i in range(idle_runs):
        start = time.perf_counter()
        again = ingest_news(sources_path=sources)
        work = sum(r.counts.fetched + r.counts.new for r in again)
        emit({"idle": i, "seconds": time.perf_counter() - start, "rss": tree_rss(os.getpid())})
        if work:
            raise SystemExit(f"an unchanged source did work: {again}")
    shutdown_pool()


def run_plain_steps(sources: str) -> None:
    """Child: the same steps' plain functions (``.fn``) in the flow's shape, without Prefect:
    sources concurrently in threads, each source's batches one after another."""
    from flows import runtime, steps
    from flows.ingest import batches, resolve_sources
    from flows.settings import Settings
    from storage.migrate import ensure_schema

    settings = Settings()
    ensure_schema(settings.database_url)
    key = uuid.uuid4().hex

    def one(source: Any) -> int:
        run_id = steps.start_run.fn(settings, source.name, None)
        found = steps.discover_source.fn(settings, source, run_id, key)
        new = 0
        for batch in batches(found.items, settings.batch_size):
            new += steps.process_batch.fn(settings, source, run_id, key, batch).new
        steps.finish_run.fn(settings, run_id, found.counts, "completed", None, found.feed_states)
        return new

    start = time.perf_counter()
    selected = resolve_sources(settings, None, sources)
    with ThreadPoolExecutor(8) as threads:
        new = sum(threads.map(one, selected))
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
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    peak, peak_pss, peak_own, records = 0, 0, 0, []
    sampler_stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss, peak_own
        while not sampler_stop.is_set():
            rss, pss = tree_rss(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            peak_own = max(peak_own, _kb(proc.pid, "status", "VmRSS"))
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
    return {"peak_rss": peak, "peak_pss": peak_pss, "peak_own": peak_own, "records": records}


# --- main ---------------------------------------------------------------------------------------


def write_sources(path: Path, bases: list[str]) -> Path:
    lines = ["sources:"]
    for i, base in enumerate(bases):
        lines += [f"  - name: host{i}", f"    feeds: [{base}/feed.xml]", "    interval: 600"]
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
) -> tuple[float, float, float]:
    """Ingest into ``db_url`` in a child, then ``idle`` no-change runs; (pages/s, articles/s,
    seconds)."""
    from storage.migrate import upgrade

    upgrade(db_url)
    out = child("flow", env | {"NEWSFLOW_DATABASE_URL": db_url}, src, idle)
    first, idles = out["records"][0], out["records"][1:]
    articles, roots = stored(db_url)
    rate = articles / first["ingest"]
    print(f"\n[{label}] flow: {first['ingest']:.1f} s, {rate:.1f} articles/s; {first['counts']}")
    print(f"  stored {articles} articles ({roots} distinct stories), statuses {first['statuses']}")
    pages = first["counts"]["fetched"] / first["ingest"]
    print(f"  {pages:.1f} pages/s fetched and extracted (exact duplicates store no article)")
    share = first["cpu"] / first["ingest"]
    busy = first["workers"] / first["ingest"]
    print(f"  CPU of the ingest process itself: {share:.0%} of one core; of its extraction")
    print(f"    workers: {busy:.0%} of one core (baseline workers: 2 x 100% less waiting)")
    rss, pss = out["peak_rss"] / 2**20, out["peak_pss"] / 2**20
    own = out["peak_own"] / 2**20
    print(f"  peak RSS of the ingest process alone: {own:.0f} MB (its workers: the rest)")
    print(
        f"  peak memory of the ingest process and its children: RSS {rss:.0f} MB, PSS {pss:.0f} MB"
    )
    if idles:
        rss = [r["rss"][0] / 2**20 for r in idles]
        cost = sorted(r["seconds"] for r in idles)[len(idles) // 2]
        change = (rss[-1] - rss[0]) / rss[0]
        rise = max((later - min(rss[: i + 1])) / min(rss[: i + 1]) for i, later in enumerate(rss))
        verdict = "goal met" if rise <= GOAL_FLAT else "goal missed"
        print(
            f"  {len(idles)} no-change runs: median {cost:.2f} s each; RSS first {rss[0]:.0f} MB,"
        )
        print(
            f"    max {max(rss):.0f} MB, last {rss[-1]:.0f} MB ({change:+.1%}); largest rise over"
        )
        print(f"    an earlier run's RSS: {rise:+.1%} ({verdict}: no growth above 10 %)")
        step = max(1, len(rss) // 10)
        print(
            "    RSS after runs "
            + ", ".join(f"{i + 1}: {rss[i]:.0f}" for i in range(0, len(rss), step))
        )
    return pages, rate, first["ingest"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="400 pages, 10 no-change runs")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--idle-runs", type=int, default=50)
    parser.add_argument("--pg-url", default=os.environ.get("NEWSFLOW_TEST_PG_URL"))
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flow", help=argparse.SUPPRESS)
    parser.add_argument("--plain-steps", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.pages, args.idle_runs = min(args.pages, 400), min(args.idle_runs, 10)
    if args.serve:
        return serve(args.pages, args.hosts)
    if args.flow:
        return run_flow(args.flow, args.idle_runs)
    if args.plain_steps:
        return run_plain_steps(args.plain_steps)
    admin = args.pg_url or "postgresql://postgres@127.0.0.1:5432/postgres"
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
        "NEWSFLOW_FETCH_DELAY": "0",
        "NEWSFLOW_MAX_ITEMS_PER_SOURCE": str(args.pages),
    }
    cmd = [sys.executable, __file__, "--serve", "--pages", str(args.pages)]
    cmd += ["--hosts", str(args.hosts)]
    site = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert site.stdout is not None
        info = json.loads(site.stdout.readline())
        urls = {int(k): v for k, v in info["urls"].items()}
        src = write_sources(tmp / "sources.yaml", info["bases"])
        print(f"{args.pages} pages ({len(corpus_files())} corpus pages, copies with a sentence")
        print(f"of their own) on {args.hosts} loopback hosts, one feed and source each")
        plain_extract(("http://warm.up/", b"<html><body><p>warm</p></body></html>"))
        seconds, ok = plain_pipeline(urls)
        base = ok / seconds
        print(f"\nplain requests + trafilatura, 2-process pool: {seconds:.1f} s, {ok} pages")
        print(f"  extracted, {base:.1f} pages/s (baseline)")
        print(f"  peak RSS of its 2 worker processes: {PLAIN_WORKERS_PEAK / 2**20:.0f} MB")
        results = {
            "sqlite": bench_flow("sqlite", f"sqlite:///{tmp}/flow.db", env, src, args.idle_runs)
        }
        if not args.no_pg:
            name, url = pg_database(admin)
            try:
                results["postgresql"] = bench_flow("postgresql", url, env, src, 0)
            finally:
                drop_pg(admin, name)
        plain_db = {"NEWSFLOW_DATABASE_URL": f"sqlite:///{tmp}/plain.db"}
        plain = child("plain-steps", env | plain_db, src, 0)["records"][0]
        flow_s = results["sqlite"][2]
        print(
            f"\nsame steps, no Prefect (sqlite): {plain['plain_steps']:.1f} s, {plain['new']} new"
        )
        print(f"  Prefect's share of the flow's wall time: {1 - plain['plain_steps'] / flow_s:.1%}")
        print()
        print("ratio: newsflow's pages/s (fetched, extracted, deduplicated, stored or linked)")
        print("  over the baseline's pages/s (fetched and extracted), on the same pages:")
        for label, (pages, articles, _) in results.items():
            ratio = pages / base
            verdict = "goal met" if ratio >= GOAL_RATIO else "goal missed"
            print(f"  {label}: {ratio:.2f} ({verdict}, goal >= {GOAL_RATIO});", end=" ")
            print(f"in stored articles/s over baseline pages/s: {articles / base:.2f}")
    finally:
        assert site.stdin is not None
        site.stdin.close()
        site.wait(timeout=30)
        api.stop()


if __name__ == "__main__":
    main()
