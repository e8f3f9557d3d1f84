"""Re-record the hand-written sites as fixtures with the real recorder, over loopback:
``.venv/bin/python -m tests.sites.record [NAME ...]`` (default: every site) runs
``newsflow sources record NAME --force`` against each site served on 127.0.0.1, into
tests/fixtures/NAME. Do this when extraction changes on purpose, and review the diff."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.loopback import LoopbackServer
from tests.sites import SITES, serve_site

FEEDS = {"example-news": "/feed.xml", "tagesblick": "/atom.xml"}
FIXTURES = SITES.parent / "fixtures"


def record(name: str) -> int:
    server = LoopbackServer()
    try:
        base = serve_site(server, name)
        with tempfile.TemporaryDirectory() as scratch:
            sources = Path(scratch) / "sources.yaml"
            sources.write_text(
                f"sources:\n  - name: {name}\n    feeds: [{base}{FEEDS[name]}]\n"
                "    interval: 3600\n",
                encoding="utf-8",
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
            env |= {"NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8", "NEWSFLOW_FETCH_DELAY": "0"}
            command = [str(Path(sys.executable).with_name("newsflow")), "sources", "record", name]
            command += ["--sources", str(sources), "--dir", str(FIXTURES), "--force"]
            return subprocess.run(command, env=env, check=False).returncode
    finally:
        server.close()


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(FEEDS)
    sys.exit(max(record(name) for name in names))
