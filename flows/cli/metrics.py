"""``newsflow metrics``: per-source health in the Prometheus text format, printed once or served
over HTTP for a Prometheus scrape (``--port``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from flows.cli.common import err, fail, require_database
from flows.settings import Settings


def register(app: typer.Typer) -> None:
    app.command()(metrics)


def metrics(
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Serve the metrics over HTTP on this port."),
    ] = None,
    address: Annotated[
        str, typer.Option("--address", help="The address to serve on (with --port).")
    ] = "127.0.0.1",
) -> None:
    """Per-source health as Prometheus metrics: articles stored, runs by status, failed fetches
    by reason, seconds since the last success, feed lag, runs in a row without new articles."""
    from flows.metrics import exposition, serve_metrics

    url = require_database(Settings().database_url)
    if port is None:
        sys.stdout.write(exposition(url))
        return
    err.print(f"serving metrics on http://{address}:{port}/metrics", highlight=False)
    try:
        serve_metrics(url, port, address)
    except OSError as exc:
        raise fail(f"cannot serve on {address}:{port}: {exc}") from None
    except KeyboardInterrupt:
        pass
