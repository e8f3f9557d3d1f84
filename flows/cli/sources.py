"""``newsflow sources ...``: the feed author's tools. ``list`` the configured sources with their
latest run, ``try`` one dry (nothing is written), ``discover`` a site's feeds and print an entry,
``record`` a source's responses as a test fixture. The work is in tasks/ (probe, sitefinder,
recording) and storage/overview.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.common import (
    DASH,
    SourcesOption,
    console,
    database_problem,
    err,
    fail,
    load,
    when,
)
from flows.settings import Settings, redact_url
from tasks.records import Reason
from tasks.sources import SourceConfig, SourcesError, select_sources

if TYPE_CHECKING:
    from storage.overview import SourceActivity
    from tasks.authoring.probe import Probe
    from tasks.authoring.sitefinder import SiteReport

app = typer.Typer(no_args_is_help=True, help="Add and check sources: list, try, discover, record.")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="sources")


def _source(target: str, sources: Path | None) -> SourceConfig:
    """The named source, or an ad-hoc one for a feed URL."""
    if "://" in target:
        try:
            return SourceConfig(name="adhoc", feeds=[target], interval=3600)
        except ValueError as exc:
            raise fail(f"{target!r} is not a feed URL we can fetch: {exc}") from None
    try:
        (source,) = select_sources(load(sources or Settings().sources), [target])
    except SourcesError as exc:
        raise fail(str(exc)) from None
    return source


def _activity(db_url: str) -> tuple[dict[str, SourceActivity], str | None]:
    """The database's view of the sources, or nothing and why (missing or unreadable)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.overview import source_activity

    problem = database_problem(db_url, current=False)
    if problem is not None:
        return {}, problem
    shown = redact_url(db_url)
    try:
        return source_activity(db_url), None
    except SQLAlchemyError as exc:
        return {}, f"cannot read {shown}: {type(exc).__name__}"


def _schedule(source: SourceConfig) -> str:
    return source.schedule if source.schedule is not None else f"every {source.interval}s"


def sources_table(sources: list[SourceConfig], activity: dict[str, SourceActivity]) -> Table:
    table = Table()
    for column in ("name", "kind", "documents", "schedule", "enabled", "last run (UTC)", "status"):
        table.add_column(column, overflow="fold")
    for column in ("items", "fetched", "new", "failed", "articles"):
        table.add_column(column, justify="right")
    for source in sources:
        seen = activity.get(source.name)
        numbers = [DASH] * 5
        if seen is not None:
            counts = (seen.feed_items, seen.fetched, seen.new, seen.failed, seen.articles)
            numbers = [DASH if n is None else str(n) for n in counts]
        table.add_row(
            escape(source.name),
            "\n".join(source.documents.values()),  # per document: feed, sitemap, urls or auto
            escape("\n".join(source.documents)),
            _schedule(source),
            "yes" if source.enabled else "no",
            when(seen.last_run_at if seen else None),
            (seen.last_status if seen else None) or DASH,
            *numbers,
        )
    return table


@app.command("list")
def list_sources(sources: SourcesOption = None) -> None:
    """Every source in the sources file, with its latest run and stored articles."""
    configured = load(sources or Settings().sources)
    activity, problem = _activity(Settings().database_url)
    console.print(sources_table(configured, activity))
    if problem:
        err.print(f"{escape(problem)}: no runs to show", highlight=False, soft_wrap=True)
    orphans = sorted(set(activity) - {s.name for s in configured})
    if orphans:
        console.print(f"in the database only: {escape(', '.join(orphans))}", highlight=False)


def _items_table(probe: Probe, count: int) -> Table:
    table = Table(title=f"first {min(count, len(probe.items))} of {len(probe.items)} items")
    table.add_column("#", justify="right")
    table.add_column("date (UTC)", no_wrap=True)
    table.add_column("title", ratio=2, overflow="fold")
    table.add_column("link", ratio=3, overflow="fold")
    for number, item in enumerate(probe.items[:count], 1):
        table.add_row(
            str(number), when(item.published_at), escape(item.title or DASH), escape(item.url)
        )
    return table


def _pages_table(probe: Probe) -> Table:
    table = Table(title=f"extracted {len(probe.pages)} item(s)")
    for column in ("title", "date", "authors", "words", "lang", "result"):
        table.add_column(column, overflow="fold")
    for page in probe.pages:
        article = page.article
        if article is None:
            label = escape(page.item.title or page.item.url)
            table.add_row(label, DASH, DASH, DASH, DASH, page.reason)
            continue
        table.add_row(
            escape(article.title or DASH),
            when(article.published_at, "%Y-%m-%d"),  # pages give days, often no time
            escape(", ".join(article.authors) or DASH),
            str(article.word_count),
            article.language or DASH,
            Reason.OK,
        )
    return table


def print_probe(probe: Probe, items: int) -> None:
    for feed in probe.feeds:
        state = feed.reason if feed.reason != Reason.OK else f"ok, {feed.items} items"
        console.print(escape(f"feed {feed.url}: {state}"), highlight=False, soft_wrap=True)
    if probe.items:
        console.print(_items_table(probe, items))
    if probe.pages:
        console.print(_pages_table(probe))
    for finding in probe.findings:
        line = f"[yellow]warning[/] {finding.code}: {escape(finding.text)}"
        console.print(line, highlight=False, soft_wrap=True)


@app.command("try")
def try_source(
    target: Annotated[str, typer.Argument(help="A source name, or a feed URL to try ad hoc.")],
    items: Annotated[int, typer.Option("--items", min=1, help="Feed items to list.")] = 10,
    sample: Annotated[int, typer.Option("--extract", min=1, help="Items to extract.")] = 3,
    sources: SourcesOption = None,
) -> None:
    """Dry run: read the feed(s), list items, extract a few and warn; writes nothing. Exit 1 when
    no feed can be read or nothing extracts."""
    from tasks.authoring.probe import probe_source

    source = _source(target, sources)
    settings = Settings()
    limit = source.max_items or settings.max_items_per_source
    probe = probe_source(source, settings.source_fetch_config(source), limit, sample)
    print_probe(probe, items)
    if not probe.ok:
        readable = any(f.reason == Reason.OK for f in probe.feeds)
        why = "nothing could be extracted" if readable else "no feed could be read"
        raise fail(f"{source.name}: {why}", 1)
    console.print(f"[green]ok[/]: {source.name} reads and extracts", highlight=False)


def _candidates_table(report: SiteReport) -> Table:
    table = Table(title=f"feeds and sitemaps of {escape(report.url)}")
    for column in ("kind", "found via", "url", "result", "entries"):
        table.add_column(column, overflow="fold")
    for c in report.candidates:
        entries = str(c.entries) if c.reason == Reason.OK else DASH
        table.add_row(c.kind, c.via, escape(c.final_url or c.url), c.reason, entries)
    return table


@app.command("discover")
def discover(
    url: Annotated[str, typer.Argument(help="The site's home page URL.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Source name (default: from the domain).")
    ] = None,
    interval: Annotated[
        int, typer.Option("--interval", min=60, help="Seconds between runs.")
    ] = 3600,
) -> None:
    """Find a site's feeds and sitemaps, check each, and print a sources.yaml entry on stdout
    (the report goes to stderr). Exit 1 when no usable feed is found."""
    from tasks.authoring.sitefinder import discover_site, slug_for, source_entry

    report = discover_site(url, Settings().fetch_config())
    if report.home_reason != Reason.OK:
        line = f"home page {url}: {report.home_reason}"
        err.print(escape(line), highlight=False, soft_wrap=True)
    err.print(_candidates_table(report))
    if not report.usable("feed"):
        raise fail(f"no usable feed found at {url}", 1)
    typer.echo(source_entry(report, name or slug_for(url), interval), nl=False)


@app.command("record")
def record(
    name: Annotated[str, typer.Argument(help="The source to record.")],
    pages: Annotated[int, typer.Option("--pages", min=1, help="Pages to save.")] = 3,
    directory: Annotated[Path, typer.Option("--dir", help="Fixtures folder.")] = Path(
        "tests/fixtures"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing recording.")
    ] = False,
    sources: SourcesOption = None,
) -> None:
    """Save the source's feed(s) and a few pages with what extraction makes of them, under
    DIR/NAME, for tests/test_source_fixtures.py."""
    from tasks.authoring.recording import RecordingError, record_source

    source = _source(name, sources)
    settings = Settings()
    target = directory / source.name
    try:
        expected = record_source(source, settings.source_fetch_config(source), target, pages, force)
    except RecordingError as exc:
        raise fail(f"{source.name}: {exc}", 1) from None
    for feed in expected["feeds"]:
        console.print(f"{escape(feed['file'])}: {len(feed['items'])} items", highlight=False)
    for page in expected["pages"]:
        words = page.get("word_count", 0)
        summary = (
            f"{page.get('title')!r}, {words} words"
            if page["reason"] == Reason.OK
            else page["reason"]
        )
        console.print(f"{escape(page['file'])}: {escape(summary)}", highlight=False)
    done = f"recorded {source.name} in {target}"
    console.print(escape(done), highlight=False, soft_wrap=True)
