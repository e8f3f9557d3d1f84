"""``newsflow browse`` as a subprocess on a free loopback port, for the tests that talk to it
over HTTP or through a real browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

NEWSFLOW = Path(sys.executable).with_name("newsflow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Browse:
    base: str  # http://127.0.0.1:PORT
    child: subprocess.Popen[str]

    def stop(self) -> str:
        """Stop the command (SIGTERM, as a service manager would); everything it printed."""
        if self.child.poll() is None:
            self.child.terminate()
        return self.child.communicate(timeout=30)[0]


@contextmanager
def browsing(args: list[str], cwd: Path) -> Iterator[Browse]:
    """``newsflow browse ARGS --port P``, once it answers; stopped at the end."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    child = subprocess.Popen(
        [str(NEWSFLOW), "browse", *args, "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Browse(f"http://127.0.0.1:{port}", child)
    try:
        deadline = time.monotonic() + 90
        while not _answers(running):
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"newsflow browse did not answer on {running.base}:\n{running.stop()}")
            time.sleep(0.3)
        yield running
    finally:
        running.stop()


def _answers(running: Browse) -> bool:
    try:
        return httpx.get(running.base + "/-/versions.json", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
