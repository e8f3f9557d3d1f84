"""The ``newsflow`` command line (the console script is ``flows.cli:app``): one module per command
group, each adding its commands with ``register``; what they share is in :mod:`flows.cli.common`."""

import typer

from flows.cli import (
    analytics,
    boilerplate,
    browse,
    db,
    deployments,
    metrics,
    reextract,
    run,
    search,
    show,
    sources,
)

app = typer.Typer(no_args_is_help=True, help="Scheduled news ingestion into SQL.")
for group in (
    run,
    deployments,
    search,
    show,
    browse,
    analytics,
    boilerplate,
    reextract,
    sources,
    db,
    metrics,
):
    group.register(app)

__all__ = ["app"]
