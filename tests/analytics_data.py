"""A small newsroom written through the repository exactly as the flow writes it, for the analytics
and README-query tests: three real source names, several runs each, articles in two languages
with authors and tags, one story syndicated by two sources (a near-duplicate), one exact copy
under another URL (an alias), a revised article, failed fetches with their reasons, robots.txt
rows, and a source whose last runs failed. Dates are relative to now."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from storage import articles, feeds, revisions, runs
from storage.engine import dispose_engines, transaction
from storage.migrate import upgrade
from storage.models import Article
from tasks.dedup.dedup import band_hashes, best_match, signature
from tasks.extract.extract import content_hash
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult, Recheck, RunCounts
from tests import dedup_fixtures as fx

NEAR = articles.NearDup(matcher=functools.partial(best_match, threshold=0.5))
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Story:
    url: str
    text: str
    title: str
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    age: timedelta | None  # published this long before now; None: the page gives no date
    language: str = "en"


@dataclass
class Newsroom:
    """What :func:`fill` stored, for the tests' expectations."""

    now: datetime
    urls: dict[str, list[str]] = field(default_factory=dict)  # source -> its articles' URLs
    articles: dict[str, int] = field(default_factory=dict)  # stored articles per source
    duplicates: dict[str, int] = field(default_factory=dict)  # near-copies per source
    failures: dict[str, int] = field(default_factory=dict)  # failed non-robots fetches
    runs: dict[str, int] = field(default_factory=dict)
    last_status: dict[str, str] = field(default_factory=dict)
    revised_url: str = ""
    copy_url: str = ""  # the exact copy: stored only as an alias


def _article(story: Story, now: datetime) -> ExtractedArticle:
    sig = signature(story.text)
    return ExtractedArticle(
        url=story.url,
        canonical_url=story.url,
        text=story.text,
        content_hash=content_hash(story.text),
        title=story.title,
        description=story.title + ".",
        authors=story.authors,
        published_at=None if story.age is None else now - story.age,
        site_name=story.url.split("/")[2],
        language=story.language,
        image_url=story.url + ".jpg",
        tags=story.tags,
        word_count=len(story.text.split()),
        minhash=sig,
        bands=tuple(band_hashes(sig)),
    )


def _fetch(url: str, kind: str = "page", reason: str = "ok") -> FetchOutcome:
    status = {"ok": 200, "http_404": 404, "not_html": 200}.get(reason)
    return FetchOutcome(
        url=url,
        kind=kind,
        reason=reason,
        final_url=url if status else None,
        status_code=status,
        duration_ms=120,
        bytes_read=20_000 if reason == "ok" else 0,
        started_at=datetime.now(UTC),
        detail={"timeout": "read timeout (20 s)", "conn_error": "connection refused"}.get(reason),
    )


def _page(url: str, article: ExtractedArticle | None, reason: str = "ok") -> PageResult:
    return PageResult(fetch=_fetch(url, reason=reason), item=FeedItem(url, url), article=article)


class _Writer:
    def __init__(self, db_url: str, room: Newsroom) -> None:
        self.db_url, self.room = db_url, room

    def run(
        self,
        source: str,
        stories: list[Story] = [],  # noqa: B006 - read only
        failures: list[tuple[str, str]] = [],  # noqa: B006 - read only
        error: str | None = None,
    ) -> int:
        """One ingest run of ``source``: its feed fetch, robots.txt, pages; closed like the flow."""
        feed = f"https://{source}.example/feed.xml"
        with transaction(self.db_url) as session:
            run_id = runs.start_run(session, source, None)
        reason = "conn_error" if error else "ok"
        with transaction(self.db_url) as session:
            feeds.record_fetches(session, run_id, [_fetch(feed, "feed", reason)])
        pages = [_page(s.url, _article(s, self.room.now)) for s in stories]
        pages += [_page(url, None, reason) for url, reason in failures]
        robots = [_fetch(f"https://{source}.example/robots.txt", "robots", "http_404")]
        counts = RunCounts(feed_items=len(pages), fetched=len(pages))
        if pages:
            with transaction(self.db_url) as session:
                counts.add(articles.store_pages(session, run_id, pages, robots, NEAR))
        with transaction(self.db_url) as session:
            runs.finish_run(session, run_id, counts, "failed" if error else "completed", error)
        room = self.room
        room.runs[source] = room.runs.get(source, 0) + 1
        room.last_status[source] = "failed" if error else "completed"
        room.failures[source] = room.failures.get(source, 0) + len(failures) + bool(error)
        return run_id


def _story(source: str, slug: str, seed: int, age_days: float | None, **fields: object) -> Story:
    values: dict[str, object] = {
        "url": f"https://{source}.example/news/{slug}",
        "text": fx.article(seed),
        "title": slug.replace("-", " ").capitalize(),
        "authors": ("Jane Doe",),
        "tags": ("Politics",),
        "age": None if age_days is None else timedelta(days=age_days),
    }
    values.update(fields)
    return Story(**values)  # type: ignore[arg-type]


def fill(db_url: str) -> Newsroom:
    """Write the newsroom into the migrated database at ``db_url``."""
    room = Newsroom(now=datetime.now(UTC))
    write = _Writer(db_url, room)
    harbour = _story("bbc-world", "harbour-budget-approved", 1, 6, authors=("Jane Doe", "John Roe"))
    ferry = _story("bbc-world", "ferry-timetable", 2, 5)
    storm = _story("bbc-world", "storm-hits-coast", 3, 3, tags=("Climate", "Energy"))
    strike = _story("bbc-world", "port-strike-ends", 4, 1, text=fx.article(4, words=900))
    syndicated = _story(
        "guardian-world",
        "harbour-budget",
        11,
        5.9,
        text=fx.syndicated(harbour.text, 1),
        authors=("Wire Staff",),
        tags=("Politics", "World"),
    )
    solar = _story("guardian-world", "solar-farm", 5, 2, authors=("Amira Khan",), tags=("Energy",))
    copy = _story("guardian-world", "ferry-timetable-copy", 2, 5, text=ferry.text)
    live = _story("guardian-world", "live-election-night", 8, None, authors=(), tags=())
    german = {"language": "de", "authors": ("Lena Schmidt",), "tags": ("Europa",)}
    wahl = _story("dw-top", "wahl-ergebnis", 6, 4, **german)
    haushalt = _story("dw-top", "haushalt", 7, 2, **german)

    write.run("bbc-world", [harbour, ferry])
    write.run("bbc-world", [storm])
    write.run("bbc-world")
    last = write.run(
        "bbc-world",
        [strike],
        [
            ("https://bbc-world.example/gone", "http_404"),
            ("https://bbc-world.example/slow", "timeout"),
        ],
    )
    _revise(db_url, last, storm)
    write.run("guardian-world", [syndicated, solar])
    write.run("guardian-world", [copy], [("https://guardian-world.example/a.pdf", "not_html")])
    write.run("guardian-world", [live])
    write.run("dw-top", [wahl])
    write.run("dw-top", [haushalt])
    for _ in range(3):
        write.run("dw-top")
    for _ in range(3):
        write.run("dw-top", error="no feed could be read (conn_error)")

    room.urls = {
        "bbc-world": [harbour.url, ferry.url, storm.url, strike.url],
        "guardian-world": [syndicated.url, solar.url, live.url],
        "dw-top": [wahl.url, haushalt.url],
    }
    room.articles = {name: len(urls) for name, urls in room.urls.items()}
    room.duplicates = {"bbc-world": 0, "guardian-world": 1, "dw-top": 0}
    room.revised_url, room.copy_url = storm.url, copy.url
    return room


def _revise(db_url: str, run_id: int, story: Story) -> None:
    """The page of ``story`` changed after publication: re-fetched, its old text kept."""
    with transaction(db_url) as session:
        article_id = session.scalars(select(Article.id).where(Article.url == story.url)).one()
    new = Story(**{**story.__dict__, "text": fx.updated(story.text, 3)})
    page = _page(story.url, _article(new, datetime.now(UTC)))
    with transaction(db_url) as session:
        counts = revisions.apply_rechecks(session, run_id, [(Recheck(article_id, story.url), page)])
    assert counts.revised == 1


DIALECTS = ("sqlite", "postgresql")
Filled = dict[str, "tuple[str, Newsroom] | str"]


def filled_databases(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Filled]:
    """Fixture body (module scope): a newsroom on SQLite and one on PostgreSQL, by dialect; for a
    dialect that is not available, the reason instead (see :func:`newsroom`)."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('newsroom') / 'news.db'}"
    upgrade(sqlite_url)
    found: Filled = {"sqlite": (sqlite_url, fill(sqlite_url))}
    admin = pg_url = None
    try:
        admin = str(request.getfixturevalue("postgres_admin"))
    except pytest.skip.Exception as exc:
        found["postgresql"] = str(exc)
    if admin is not None:
        pg_url = create_pg_database(admin)
        upgrade(pg_url)
        found["postgresql"] = (pg_url, fill(pg_url))
    yield found
    dispose_engines()
    if admin is not None and pg_url is not None:
        drop_pg_database(admin, pg_url)


def newsroom(filled: Filled, dialect: str) -> tuple[str, Newsroom]:
    """The database URL and newsroom of ``dialect``, or skip the test saying why not."""
    found = filled[dialect]
    if isinstance(found, str):
        pytest.skip(found)
    return found


def create_pg_database(admin: str) -> str:
    import psycopg

    name = f"newsflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_pg_database(admin: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
