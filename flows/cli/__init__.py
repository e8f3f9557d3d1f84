"""The ``newsflow`` command line: one module per command group (the console script is
``flows.cli:app``)."""

from flows.cli.run import app

__all__ = ["app"]
