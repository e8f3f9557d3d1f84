"""``newsflow db upgrade|current``: the database schema (Alembic migrations)."""

from __future__ import annotations

import typer
from rich.markup import escape

from flows.cli.common import console
from flows.settings import Settings, redact_url

app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations).")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="db")


@app.command("upgrade")
def upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from storage.migrate import current_revision
    from storage.migrate import upgrade as migrate

    url = Settings().database_url
    migrate(url, revision)
    console.print(f"{escape(redact_url(url))} at revision {current_revision(url)}", highlight=False)


@app.command("current")
def current() -> None:
    """Print the database's revision and the code's head revision."""
    from storage.migrate import current_revision, head_revision

    url = Settings().database_url
    console.print(
        f"database {escape(redact_url(url))}: {current_revision(url)} (head: {head_revision()})",
        soft_wrap=True,
    )
