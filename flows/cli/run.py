"""``newsflow ingest``, ``backfill`` and ``serve``: running the flows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from flows.cli.common import SourcesOption, console, err, fail, load, prepare_database, selected
from flows.settings import Settings, apply_prefect_defaults, redact_url
from tasks.sources import SourceConfig


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(ingest)
    app.command()(backfill)
    app.command()(serve)


def ingest(
    names: Annotated[
        list[str] | None, typer.Argument(help="Source names (default: all enabled).")
    ] = None,
    sources: SourcesOption = None,
) -> None:
    """Run the ingest-news flow once (ephemeral Prefect, no server needed)."""
    settings = Settings()
    path = sources or settings.sources
    chosen = selected(path, names)
    if not chosen:
        err.print("[yellow]no enabled sources to ingest[/]")
        raise typer.Exit(0)
    prepare_database(settings.database_url)
    apply_prefect_defaults()
    from flows import progress
    from flows.report import ProgressBars, error_lines, summary_table
    from flows.runner import prefect_server_configured
    from flows.runtime import shutdown_pool

    local = not (prefect_server_configured() or settings.prefect_ephemeral)
    bars = ProgressBars(console, [s.name for s in chosen])
    progress.subscribe(bars)
    try:
        with bars:
            reports, failure = _run_ingest(settings, local, chosen, path)
    finally:
        progress.unsubscribe(bars)
        shutdown_pool()
    if reports is None:  # the flow itself broke: no per-source reports
        raise fail(f"ingest failed: {failure}", 1)
    console.print(summary_table(reports))
    for line in error_lines(reports):
        console.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)
    from flows.outcome import OFFLINE_HINT, may_be_offline

    if may_be_offline(reports):
        console.print(f"[yellow]{OFFLINE_HINT}[/]", highlight=False, soft_wrap=True)
    console.print(
        f"database: {escape(redact_url(settings.database_url))}", highlight=False, soft_wrap=True
    )
    if all(r.status == "failed" for r in reports):
        raise typer.Exit(1)


def _run_ingest(
    settings: Settings, local: bool, chosen: list[SourceConfig], path: Path
) -> tuple[list[Any] | None, str]:
    """Run the ingest: with no Prefect server configured, without Prefect's engine (no temporary
    server: it costs seconds and its shutdown logs errors); else as the ``ingest-news`` flow,
    whose runs, logs and artifacts reach the server. The reports, or None and why."""
    from flows.ingest import ingest_locally, ingest_news
    from flows.runner import keep_logs_local

    if local:
        keep_logs_local()
        try:
            return ingest_locally(settings, chosen), ""
        except Exception as exc:
            return None, f"{type(exc).__name__}: {exc}"
    state = ingest_news(
        source_names=[s.name for s in chosen], sources_path=str(path.resolve()), return_state=True
    )
    reports = state.result(raise_on_failure=False)
    return (reports, "") if isinstance(reports, list) else (None, str(state.message))


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
        raise fail("give --warc FILE... or --sitemap URL (one of them)")
    missing = [str(p) for p in warc or [] if not p.is_file()]
    if missing:
        raise fail(f"no such WARC file: {', '.join(missing)}")
    settings = Settings()
    path = sources or settings.sources
    if source is not None and path.exists():
        load(path)  # a configured source lends its options; an unknown name is a new source
    prepare_database(settings.database_url)
    apply_prefect_defaults()
    from flows import progress
    from flows.backfill import backfill_news
    from flows.report import ProgressBars, error_lines, summary_table
    from flows.runtime import shutdown_pool

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
        raise fail(f"backfill failed: {state.message}", 1)
    console.print(summary_table([report]))
    for line in error_lines([report]):
        console.print(f"[yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)
    if report.status == "failed":
        raise typer.Exit(1)


def serve(sources: SourcesOption = None) -> None:
    """Serve one scheduled deployment per enabled source (needs a Prefect server)."""
    path = sources or Settings().sources
    chosen = selected(path, None)
    apply_prefect_defaults()
    from flows.deployments import DeploymentsError, refuse_to_replace
    from flows.serve import ServerUnavailable, check_server, serve_sources

    try:
        api_url = check_server()
        refuse_to_replace([s.name for s in chosen if s.enabled], serving=True)
    except (ServerUnavailable, DeploymentsError) as exc:
        raise fail(str(exc)) from None
    prepare_database(Settings().database_url)
    console.print(f"serving {len(chosen)} deployment(s) against {escape(api_url)}", highlight=False)
    serve_sources(chosen, path.resolve())
