"""``newsflow deployments write|apply``: prefect.yaml from the sources file, and registering it on
a Prefect server's process work pool."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.common import SourcesOption, console, fail, selected
from flows.settings import Settings, apply_prefect_defaults

app = typer.Typer(
    no_args_is_help=True, help="prefect.yaml: one deployment per source on a process work pool."
)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="deployments")


PoolOption = Annotated[str, typer.Option("--pool", help="The process work pool's name.")]


@app.command("write")
def write(
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

    chosen = selected(sources or Settings().sources, None)
    text = render(chosen, pool, workdir)
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    where = escape(str(output))
    console.print(
        f"wrote {len(chosen)} deployment(s) on pool {escape(repr(pool))} to {where}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("apply")
def apply(
    pool: PoolOption = "newsflow",
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="The code's directory (default: the current one)."),
    ] = None,
    sources: SourcesOption = None,
) -> None:
    """Register the deployments against PREFECT_API_URL: the process work pool if missing,
    `prefect deploy --all`, this pool's deployments of sources no longer enabled removed, and
    the zombie-run and alert automations."""
    settings = Settings()
    chosen = selected(sources or settings.sources, None)
    apply_prefect_defaults()
    from flows.alerts import ensure_alerts, find_block
    from flows.deployments import (
        DeploymentsError,
        deploy,
        ensure_pool,
        ensure_zombie_automation,
        prune,
        refuse_to_replace,
        render,
    )
    from flows.serve import ServerUnavailable, check_server

    try:
        api_url = check_server()
        refuse_to_replace([s.name for s in chosen], serving=False)
        block_id = find_block(settings.alert_block) if settings.alert_block else None
        created = ensure_pool(pool)
    except (ServerUnavailable, DeploymentsError) as exc:
        raise fail(str(exc)) from None
    where = (workdir or Path.cwd()).resolve()
    console.print(
        f"work pool {escape(repr(pool))} {'created' if created else 'exists'} at {escape(api_url)}"
    )
    status = deploy(render(chosen, pool, str(where)), where) if chosen else 0
    if status != 0:
        raise fail(f"prefect deploy exited with status {status}", 1)
    removed = prune(pool, {s.name for s in chosen})
    try:
        zombies = ensure_zombie_automation(settings.zombie_after_seconds)
    except DeploymentsError as exc:
        raise fail(str(exc)) from None
    console.print(f"zombie-run automation: {escape(str(zombies))}")
    for name, done in ensure_alerts(block_id, settings.alert_empty_runs).items():
        if done != "off":
            console.print(f"{escape(name)}: {escape(done)}", highlight=False)
    console.print(
        f"{len(chosen)} deployment(s) on pool {escape(repr(pool))}"
        + (f"; removed {escape(', '.join(removed))}" if removed else ""),
        highlight=False,
    )
