"""Fetch throughput: newsflow's fetch_pages against plain requests, on loopback corpus pages.

Usage: .venv/bin/python bench/fetch.py [--pages N] [--repeat R]. The server (tests.loopback, a
ThreadingHTTPServer) runs in a child process, so it does not share the GIL with the clients.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from itertools import chain
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.fetch.fetch import FetchConfig  # noqa: E402
from tasks.fetch.hosts import host_key  # noqa: E402
from tasks.fetch.netguard import NetworkPolicy  # noqa: E402
from tasks.fetch.polite import fetch_pages  # noqa: E402
from tests.loopback import Handler, LoopbackServer  # noqa: E402

GOAL = 0.9
POLICY = NetworkPolicy.parse("127.0.0.0/8")
CONFIG = FetchConfig("newsflow-bench/1.0", network_policy=POLICY, delay=0, robots=False, retries=2)


def plan(n: int) -> list[tuple[str, Path]]:
    """N distinct (URL path, page): the page's original host and path under a cycle number."""
    corpus = Path(os.environ.get("NEWSFLOW_CORPUS") or ROOT.parent / "shared" / "corpus")
    files = sorted((corpus / "web" / "pages").glob("*/*.html"))
    if not files:
        raise SystemExit(f"no pages under {corpus / 'web' / 'pages'}")
    out = []
    for i in range(n):
        html = files[i % len(files)]
        meta = json.loads(html.with_suffix(".expected.json").read_text(encoding="utf-8"))
        path = quote(urlsplit(str(meta.get("url") or "")).path or f"/{html.name}", safe="/-._~")
        out.append((f"/{i // len(files)}/{html.parent.name}{path}", html))
    if len({path for path, _ in out}) != n:
        raise SystemExit("URL paths are not distinct")
    return out


def page_handler(raw: bytes, packed: bytes) -> Handler:
    def send(request: BaseHTTPRequestHandler) -> None:
        # Headers and body leave in two writes: without TCP_NODELAY (real servers set it), Nagle
        # meets the client's delayed ACK and every keep-alive response stalls ~40 ms.
        request.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        zipped = "gzip" in request.headers.get("Accept-Encoding", "")
        body = packed if zipped else raw
        request.send_response(200)
        headers = {"Content-Type": "text/html", "Vary": "Accept-Encoding"}
        headers |= {"Content-Encoding": "gzip"} if zipped else {}
        for key, value in (headers | {"Content-Length": str(len(body))}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)

    return send


def serve(n: int) -> None:
    server = LoopbackServer()
    for path, html in plan(n):
        raw = html.read_bytes()
        server.routes[path] = page_handler(raw, gzip.compress(raw, 6, mtime=0))
    print(server.base, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.close()


def run_newsflow(urls: list[str]) -> list[bytes]:
    outcomes = fetch_pages(urls, CONFIG)
    if bad := [o for o in outcomes if not o.ok or o.body is None]:
        raise SystemExit(f"newsflow failed on {bad[0].url}: {bad[0].reason} {bad[0].detail}")
    return [o.body or b"" for o in outcomes]


def run_plain(urls: list[str]) -> list[bytes]:
    with requests.Session() as session:
        return [session.get(url).content for url in urls]  # a 404 fails the sha256 check


def run_plain_like(urls: list[str]) -> list[bytes]:
    """fetch_pages' shape: a session and a thread per host, min(concurrency, hosts) threads."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        by_host[host_key(url)].append(url)
    groups = list(by_host.values())
    with ThreadPoolExecutor(max_workers=min(CONFIG.concurrency, len(groups))) as pool:
        bodies = dict(zip(chain(*groups), chain(*pool.map(run_plain, groups)), strict=True))
    return [bodies[url] for url in urls]


CLIENTS = {"newsflow": run_newsflow, "requests": run_plain, "pooled": run_plain_like}


def measure(repeat: int, urls: list[str], digests: list[str]) -> dict[str, float]:
    rates: dict[str, list[float]] = {name: [] for name in CLIENTS}
    for client in CLIENTS.values():  # warm-up: imports, first connection
        client(urls[:10])
    for r in range(repeat):  # alternate the order: ABC, CBA, ABC, ...
        for name in list(CLIENTS)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            bodies = CLIENTS[name](urls)
            rates[name].append(len(urls) / (time.perf_counter() - start))
            for url, body, digest in zip(urls, bodies, digests, strict=True):
                if hashlib.sha256(body).hexdigest() != digest:
                    raise SystemExit(f"{name}: the body of {url} differs from the corpus page")
        print(f"repeat {r + 1}:", "  ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()))
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.pages)
        return
    pages = plan(args.pages)
    raws = [html.read_bytes() for _, html in pages]
    digests = [hashlib.sha256(raw).hexdigest() for raw in raws]
    size, wire = sum(map(len, raws)), sum(len(gzip.compress(raw, 6, mtime=0)) for raw in raws)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--pages", str(args.pages)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            base = child.stdout.readline().strip()
            if not base.startswith("http://127.0.0.1:"):
                raise SystemExit(f"the server did not start (said {base!r})")
            median = measure(args.repeat, [base + path for path, _ in pages], digests)
        finally:
            child.stdin.close()
            child.wait(timeout=10)
    mb = f"{size / 1e6:.1f} MB ({wire / 1e6:.1f} MB gzip)"
    print(f"\n{args.pages} pages x {args.repeat} repeats, {mb} a pass, bodies sha256-verified.")
    print("One host, so fetch_pages runs one thread (sequential), as both requests runs do.")
    for name, rate in median.items():
        print(f"  {name:14} {rate:6.0f} pages/s {rate * size / args.pages / 1e6:6.1f} MB/s median")
    ratio, like = (median["newsflow"] / median[k] for k in ("requests", "pooled"))
    print(f"ratio newsflow / plain requests: {ratio:.2f} (/ pooled, same threads: {like:.2f})")
    verdict = "goal met" if ratio >= GOAL else "goal missed"
    print(f"verdict: {verdict}, newsflow at {ratio:.0%} of plain requests (goal >= {GOAL:.0%})")


if __name__ == "__main__":
    main()
