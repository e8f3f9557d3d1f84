"""The ``newsflow`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from flows import cli_analytics, cli_sources
from flows.cli_boilerplate import boilerplate
from flows.cli_reextract import reextract
from flows.cli_search import search
from flows.settings import Settings, apply_prefect_defaults, redact_url
from tasks.sources import SourceConfig, SourcesError, load_sources, select_sources

app = typer.Typer(no_args_is_help=True, help="Scheduled news ingestion into SQL.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations).")
app.add_typer(db_app, name="db")
deployments_app = typer.Typer(
    no_args_is_help=True, help="prefect.yaml: one deployment per source on a process work pool."
)
app.add_typer(deployments_app, name="deployments")
console = Console(width=None if sys.stdout.isatty() else 140)  # logs and pipes get whole tables
err = Console(stderr=True)

SourcesOption = Annotated[
    Path | None,
    typer.Option("--sources", help="Sources file (default: NEWSFLOW_SOURCES or ./sources.yaml)."),
]


def _selected(names: list[str] | None, sources: Path | None) -> tuple[Path, list[SourceConfig]]:
    path = sources or Settings().sources
    try:
        return path, select_sources(load_sources(path), names)
    except SourcesError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _prepare_database(url: str) -> None:
    from storage.migrate import SchemaOutdated, ensure_schema

    try:
        ensure_schema(url)
    except SchemaOutdated as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def ingest(
    names: Annotated[
        list[str] | None, typer.Argument(help="Source names (default: all enabled).")
    ] = None,
    sources: SourcesOption = None,
) -> None:
    """Run the ingest-news flow once (ephemeral Prefect, no server needed)."""
    settings = Settings()
    path, selected = _selected(names, sources)
    if not selected:
        err.print("[yellow]no enabled sources to ingest[/]")
        raise typer.Exit(0)
    _prepare_database(settings.database_url)
    apply_prefect_defaults()
    from flows import progress
    from flows.ingest import ingest_news
    from flows.report import ProgressBars, error_lines, summary_table
    from flows.steps import shutdown_pool

    bars = ProgressBars(console, [s.name for s in selected])
    progress.subscribe(bars)
    try:
        with bars:
            state = ingest_news(
                source_names=[s.name for s in selected],
                sources_path=str(path.resolve()),
                return_state=True,
            )
    finally:
        progress.unsubscribe(bars)
        shutdown_pool()
    reports = state.result(raise_on_failure=False)
    if not isinstance(reports, list):  # the flow itself broke: no per-source reports
        err.print(f"[red]ingest failed:[/] {escape(str(state.message))}")
        raise typer.Exit(1)
    console.print(summary_table(reports))
    for line in error_lines(reports):
        console.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)
    console.print(
        f"database: {escape(redact_url(settings.database_url))}", highlight=False, soft_wrap=True
    )
    if all(r.status == "failed" for r in reports):
        raise typer.Exit(1)


@app.command()
def backfill(
    warc: Annotated[
        list[Path] | None,
        typer.Option("--warc", help="WARC file(s) (.warc or .warc.gz, e.g. CC-NEWS); repeatable."),
    ] = None,
    sitemap: Annotated[
        str | None, typer.Option("--sitemap", help="A sitemap or sitemap index URL to walk.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Store under this source (its options apply if configured)."),
    ] = None,
    sources: SourcesOption = None,
) -> None:
    """Backfill history from WARC archives (no network) or a site's sitemap; re-runs skip what
    is stored."""
    if bool(warc) == (sitemap is not None):
        err.print("[red]error:[/] give --warc FILE... or --sitemap URL (one of them)")
        raise typer.Exit(2)
    missing = [str(p) for p in warc or [] if not p.is_file()]
    if missing:
        err.print(
            f"[red]error:[/] no such WARC file: {escape(', '.join(missing))}", highlight=False
        )
        raise typer.Exit(2)
    settings = Settings()
    path = sources or settings.sources
    if source is not None and path.exists():
        try:  # a configured source lends its options; an unknown name is a new source
            load_sources(path)
        except SourcesError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
    _prepare_database(settings.database_url)
    apply_prefect_defaults()
    from flows import progress
    from flows.backfill import backfill_news
    from flows.report import ProgressBars, error_lines, summary_table
    from flows.steps import shutdown_pool

    name = source or "backfill"
    bars = ProgressBars(console, [name])
    progress.subscribe(bars)
    try:
        with bars:
            state = backfill_news(
                warcs=[str(p.resolve()) for p in warc or []] or None,
                sitemap=sitemap,
                source_name=name,
                sources_path=str(path.resolve()),
                return_state=True,
            )
    finally:
        progress.unsubscribe(bars)
        shutdown_pool()
    report = state.result(raise_on_failure=False)
    if isinstance(report, BaseException) or not hasattr(report, "counts"):
        err.print(f"[red]backfill failed:[/] {escape(str(state.message))}")
        raise typer.Exit(1)
    console.print(summary_table([report]))
    for line in error_lines([report]):
        console.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)
    if report.status == "failed":
        raise typer.Exit(1)


@app.command()
def serve(sources: SourcesOption = None) -> None:
    """Serve one scheduled deployment per enabled source (needs a Prefect server)."""
    path, selected = _selected(None, sources)
    apply_prefect_defaults()
    from flows.serve import ServerUnavailable, check_server, serve_sources

    try:
        api_url = check_server()
    except ServerUnavailable as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    _prepare_database(Settings().database_url)
    console.print(
        f"serving {len(selected)} deployment(s) against {escape(api_url)}", highlight=False
    )
    serve_sources(selected, path.resolve())


PoolOption = Annotated[str, typer.Option("--pool", help="The process work pool's name.")]


@deployments_app.command("write")
def deployments_write(
    pool: PoolOption = "newsflow",
    output: Annotated[
        Path, typer.Option("--output", help="Where to write (- for standard output).")
    ] = Path("prefect.yaml"),
    workdir: Annotated[
        str, typer.Option("--workdir", help="The code's directory where the worker runs it.")
    ] = "/app",
    sources: SourcesOption = None,
) -> None:
    """Write prefect.yaml from the sources file (one deployment per enabled source)."""
    from flows.deployments import render

    _, selected = _selected(None, sources)
    text = render(selected, pool, workdir)
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    where = escape(str(output))
    console.print(
        f"wrote {len(selected)} deployment(s) on pool {escape(repr(pool))} to {where}",
        highlight=False,
        soft_wrap=True,
    )


@deployments_app.command("apply")
def deployments_apply(
    pool: PoolOption = "newsflow",
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="The code's directory (default: the current one)."),
    ] = None,
    sources: SourcesOption = None,
) -> None:
    """Register the deployments against PREFECT_API_URL: the process work pool if missing,
    `prefect deploy --all`, and this pool's deployments of sources no longer enabled removed."""
    _, selected = _selected(None, sources)
    apply_prefect_defaults()
    from flows.deployments import (
        DeploymentsError,
        deploy,
        ensure_pool,
        ensure_zombie_automation,
        prune,
        render,
    )
    from flows.serve import ServerUnavailable, check_server

    try:
        api_url = check_server()
        created = ensure_pool(pool)
    except (ServerUnavailable, DeploymentsError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    where = (workdir or Path.cwd()).resolve()
    console.print(
        f"work pool {escape(repr(pool))} {'created' if created else 'exists'} at {escape(api_url)}"
    )
    status = deploy(render(selected, pool, str(where)), where) if selected else 0
    if status != 0:
        err.print(f"[red]error:[/] prefect deploy exited with status {status}")
        raise typer.Exit(1)
    removed = prune(pool, {s.name for s in selected})
    try:
        zombies = ensure_zombie_automation(Settings().zombie_after_seconds)
    except DeploymentsError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"zombie-run automation: {escape(str(zombies))}")
    console.print(
        f"{len(selected)} deployment(s) on pool {escape(repr(pool))}"
        + (f"; removed {escape(', '.join(removed))}" if removed else ""),
        highlight=False,
    )


app.command()(search)
app.command()(boilerplate)
app.command()(reextract)
cli_analytics.register(app)
cli_sources.register(app)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from storage.migrate import current_revision, upgrade

    url = Settings().database_url
    upgrade(url, revision)
    console.print(f"{escape(redact_url(url))} at revision {current_revision(url)}", highlight=False)


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the code's head revision."""
    from storage.migrate import current_revision, head_revision

    url = Settings().database_url
    console.print(
        f"database {escape(redact_url(url))}: {current_revision(url)} (head: {head_revision()})",
        soft_wrap=True,
    )


if __name__ == "__main__":  # pragma: no cover
    app()
