"""newspaper4k and news-please on the same loopback site as bench/pipeline.py, beside the baseline.

Usage: .venv/bin/python bench/peers.py [--quick] [--scenario few|many] [--peer NAME ...]
                                       [--pages N] [--hosts H] [--feeds F]

The peers are an optional extra: ``pip install '.[bench]'`` (newspaper4k, news-please). A peer that
is not installed is reported as such and skipped; the others still run.

The site is bench/pipeline.py's (a child process: H loopback ports, the corpus pages served under
several URLs, each copy with a sentence of its own; ``many``: a robots.txt on every host). Each
peer runs in a child process given the pages' URLs (the peers do not read our feeds), and its
process tree is sampled every 0.2 s for its RSS, as bench/pipeline.py does for newsflow:

- ``newspaper4k``: ``newspaper.mthreading.fetch_news(urls, threads=8)`` (download and parse);
- ``news-please``: ``NewsPlease.from_urls(urls, request_args={"timeout": 30},
  fetch_images=False)`` (downloads one after another, then parses in a process pool);
- the baseline: plain ``requests`` + ``trafilatura.bare_extraction`` in 2 processes
  (bench/pipeline.py's ``plain_pipeline``).

It prints, for each: seconds, pages with a text, pages/s, CPU seconds (the process and its
children) and peak RSS of its process tree. Compare within one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import pipeline  # noqa: E402  (after the path is set)

PEERS = {"newspaper4k": "newspaper", "news-please": "newsplease"}


def run_newspaper(urls: list[str]) -> int:
    from newspaper.mthreading import fetch_news

    articles = fetch_news(list(urls), threads=8)
    return sum(bool(getattr(a, "text", "")) for a in articles)


def run_newsplease(urls: list[str]) -> int:
    from newsplease import NewsPlease

    results = NewsPlease.from_urls(list(urls), request_args={"timeout": 30}, fetch_images=False)
    return sum(bool(getattr(a, "maintext", None)) for a in results.values())


def peer_child(name: str, urls_file: str) -> None:
    """Child: run one peer over the URLs; print its figures."""
    urls = json.loads(Path(urls_file).read_text())
    start = time.perf_counter()
    ok = {"newspaper4k": run_newspaper, "news-please": run_newsplease}[name](urls)
    seconds = time.perf_counter() - start
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    print("BENCH " + json.dumps({"seconds": seconds, "ok": ok, "cpu": cpu}), flush=True)


def run_peer(name: str, urls_file: Path) -> dict[str, Any]:
    """One peer in a child whose tree is sampled; its figures and peak tree RSS."""
    cmd = [sys.executable, __file__, "--child", name, str(urls_file)]
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    peak, stop = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            peak = max(peak, pipeline.tree_rss(proc.pid)[0])

    threading.Thread(target=sample, daemon=True).start()
    assert proc.stdout is not None
    record: dict[str, Any] = {}
    for line in proc.stdout:
        if line.startswith("BENCH "):
            record = json.loads(line[6:])
    stop.set()
    if proc.wait() != 0 or not record:
        return {"error": f"exit code {proc.returncode}"}
    return record | {"rss": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="400 pages")
    parser.add_argument("--scenario", choices=["few", "many"], default="few")
    parser.add_argument("--pages", type=int, default=0, help="default: as bench/pipeline.py")
    parser.add_argument("--hosts", type=int, default=0)
    parser.add_argument("--feeds", type=int, default=12, help="feeds of the many-hosts site")
    parser.add_argument("--peer", action="append", choices=sorted(PEERS), default=[])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return peer_child(*args.child)
    few = args.scenario == "few"
    pages = args.pages or (2000 if few else 900)
    hosts = args.hosts or (8 if few else 300)
    pages = min(pages, 400) if args.quick else pages
    peers = args.peer or sorted(PEERS)
    missing = [p for p in peers if importlib.util.find_spec(PEERS[p]) is None]
    for name in missing:
        print(f"{name}: NOT INSTALLED (pip install '.[bench]'); skipped")
    cmd = [sys.executable, str(ROOT / "bench" / "pipeline.py"), "--serve", "--pages", str(pages)]
    cmd += ["--hosts", str(hosts), "--feeds", "0" if few else str(args.feeds)]
    site = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )  # its stderr: tracebacks of connections the peers reset
    rows: list[str] = []
    try:
        assert site.stdout is not None
        info = json.loads(site.stdout.readline())
        by_host = {int(k): v for k, v in info["urls"].items()}
        urls = [u for host in sorted(by_host) for u in by_host[host]]
        handle, name = tempfile.mkstemp(prefix="newsflow-peers-", suffix=".json")
        os.close(handle)
        urls_file = Path(name)
        urls_file.write_text(json.dumps(urls))
        print(f"{args.scenario} hosts: {len(urls)} pages on {hosts} loopback hosts")
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        pipeline.plain_extract(("http://warm.up/", b"<html><body><p>warm</p></body></html>"))
        before = resource.getrusage(resource.RUSAGE_SELF)
        seconds, ok, workers = pipeline.plain_pipeline(by_host)
        after = resource.getrusage(resource.RUSAGE_SELF)
        own = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        peak = pipeline.PLAIN_WORKERS_PEAK / 2**20
        rows.append(
            _row("baseline (requests + trafilatura, 2 processes)", seconds, ok, own + workers, peak)
        )
        rows[-1] += " (RSS: its 2 workers)"
        for peer in [p for p in peers if p not in missing]:
            got = run_peer(peer, urls_file)
            if "error" in got:
                rows.append(f"  {peer}: failed ({got['error']})")
                continue
            rows.append(_row(peer, got["seconds"], got["ok"], got["cpu"], got["rss"] / 2**20))
        urls_file.unlink()
    finally:
        assert site.stdin is not None
        site.stdin.close()
        site.wait(timeout=60)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print("\n".join(rows))
    for name in missing:
        print(f"  {name}: not installed, not measured")


def _row(name: str, seconds: float, ok: int, cpu: float, rss_mb: float) -> str:
    return (
        f"  {name}: {seconds:.1f} s, {ok} pages with a text, {ok / seconds:.1f} pages/s,"
        f" CPU {cpu:.1f} s, peak tree RSS {rss_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
