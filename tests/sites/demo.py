"""``make demo``: a first success without internet. Serves the hand-written sites of this folder
on 127.0.0.1, writes a sources file for them (an RSS feed and a Google News sitemap), and runs
what a user would: ``newsflow ingest`` into a demo database (``./demo.db``, made afresh each
time), ``newsflow stats`` and ``newsflow search``. No Prefect server is used or needed.

    python -m tests.sites.demo [--db demo.db] [--query bridge]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.loopback import LoopbackServer
from tests.sites import serve_site

NEWSFLOW = Path(sys.executable).with_name("newsflow")  # the venv's console script


def sources_yaml(example_news: str, tagesblick: str) -> str:
    return (
        "sources:\n"
        "  - name: example-news\n"
        f"    feeds: [{example_news}/feed.xml]\n"
        "    interval: 3600\n"
        "  - name: tagesblick\n"
        f"    sitemaps: [{tagesblick}/news-sitemap.xml]\n"
        "    interval: 3600\n"
    )


def demo_env(db: Path, sources: Path) -> dict[str, str]:
    """This process's environment without Prefect or newsflow settings (so no server is asked
    and no other database is touched), and what the demo needs: its database and sources, the
    loopback address allowed, no delay between requests to our own server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    return env | {
        "NEWSFLOW_DATABASE_URL": f"sqlite:///{db}",
        "NEWSFLOW_SOURCES": str(sources),
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
    }


def fresh(db: Path) -> None:
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def step(title: str, argv: list[str], env: dict[str, str]) -> int:
    print(f"\n$ newsflow {' '.join(argv)}    # {title}", flush=True)
    return subprocess.run([str(NEWSFLOW), *argv], env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", type=Path, default=Path("demo.db"), help="the demo database")
    parser.add_argument("--query", default="bridge", help="what `newsflow search` looks for")
    args = parser.parse_args(argv)
    db = args.db.resolve()
    fresh(db)
    server = LoopbackServer()
    try:
        example_news = serve_site(server, "example-news", "/example-news")
        tagesblick = serve_site(server, "tagesblick", "/tagesblick")
        with tempfile.TemporaryDirectory(prefix="newsflow-demo-") as tmp:
            sources = Path(tmp) / "sources.yaml"
            sources.write_text(sources_yaml(example_news, tagesblick), encoding="utf-8")
            print(f"serving tests/sites on {server.base}; sources:\n{sources.read_text()}")
            env = demo_env(db, sources)
            status = step("feeds and sitemaps -> demo.db", ["ingest"], env)
            status = status or step("what each source stored", ["stats"], env)
            status = status or step("full-text search", ["search", args.query], env)
    finally:
        server.close()
    if status == 0:
        print(f"\ndemo database: {db} (open it with `sqlite3 {db}`; see README Query)")
    return status


if __name__ == "__main__":
    sys.exit(main())
