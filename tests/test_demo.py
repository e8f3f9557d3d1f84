"""``make demo``: the project's own test sites served on loopback, ingested into a demo
database, then ``stats`` and a ``search``, with no internet and no Prefect server. The test runs
the entry point the Makefile runs."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ["-m", "tests.sites.demo"]

pytestmark = pytest.mark.slow


def make_recipe(target: str) -> list[list[str]]:
    """The commands of a Makefile target (``$(BIN)/python`` kept as written)."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{target}\s*:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(shlex.split(line.strip()))
    return recipe


def test_make_demo_runs_the_demo_entry_point() -> None:
    assert make_recipe("demo") == [["$(BIN)/python", *ENTRY]]
    phony = next(line for line in (ROOT / "Makefile").read_text().splitlines() if ".PHONY" in line)
    assert "demo" in phony.split()


def test_readme_quick_start_names_make_demo_and_the_test_time() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start") : readme.index("## Operate")]
    assert "make demo" in quick
    assert re.search(r"make test.*about \d+ min", " ".join(quick.split())), (
        "how long make test takes"
    )


@pytest.mark.timeout(240)
def test_demo_ingests_the_test_sites_offline_and_searches_them(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env |= {
        "COLUMNS": "200",
        "PREFECT_API_URL": "http://127.0.0.1:9/api",  # the demo must not ask any Prefect server
        "NEWSFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'not-this.db'}",  # nor use this one
    }
    done = subprocess.run(
        [sys.executable, *ENTRY, "--db", str(db), "--query", "bridge"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r"^example-news\s+3\s", out, re.MULTILINE), out  # stats: 3 articles
    assert re.search(r"^tagesblick\s+2\s", out, re.MULTILINE), out
    assert "Harbour bridge reopens after repairs" in out  # the search hit
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    assert not (tmp_path / "not-this.db").exists()
    with sqlite3.connect(db) as conn:
        (articles,) = conn.execute("SELECT count(*) FROM articles").fetchone()
        hosts = {row[0].split("/")[2] for row in conn.execute("SELECT url FROM fetches")}
    assert articles == 5
    assert {host.split(":")[0] for host in hosts} == {"127.0.0.1"}, hosts  # loopback only
