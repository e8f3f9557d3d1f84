"""Raw HTML kept per fetched page (``raw_pages``), its retention, and ``reextract`` from it."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from flows.reextract import apply_retention, reextract
from flows.settings import Settings
from storage import articles, rawpages, revisions, runs
from storage.engine import transaction
from storage.models import Article, ArticleRevision, Fetch, RawPageRow
from tasks.extract.extract import content_hash, extract_fetched, extract_page, page_results
from tasks.extract.rawhtml import decompress_body
from tasks.records import ExtractedPage, FeedItem, FetchedPage, FetchOutcome, trafilatura_version
from tests.test_analytics import run_cli


def article_html(n: int, extra: str = "") -> bytes:
    words = " ".join(f"term{n}y{i}" for i in range(60))
    return (
        f"<html><head><title>Report {n}</title></head><body><article><h1>Report {n}</h1>"
        f"<p>Report number {n} begins here. {words}.</p><p>It continues about subject {n} with "
        f"plenty of words for the extractor to keep.</p>{extra}</article></body></html>"
    ).encode()


def fetched(url: str, body: bytes | None, reason: str = "ok") -> FetchOutcome:
    return FetchOutcome(
        url=url,
        kind="page",
        reason=reason,
        final_url=url if body is not None else None,
        status_code=200 if body is not None else 404,
        content_type="text/html; charset=utf-8",
        body=body,
        bytes_read=len(body or b""),
        started_at=datetime.now(UTC),
    )


def extracted_pages(items: list[FeedItem], outcomes: list[FetchOutcome]) -> list[ExtractedPage]:
    """Each item with its fetch and (inline) extraction, as ``InFlight.pages`` gives them."""
    fetched = [FetchedPage(i, o) for i, o in zip(items, outcomes, strict=True)]
    return extract_fetched(fetched, lambda inputs: [extract_page(p) for p in inputs])


def ingest_pages(
    db_url: str, source: str, bodies: dict[str, bytes | None], keep: bool = True
) -> int:
    """What a batch's steps do with fetched pages: extract, pair, store. The run id."""
    items = [FeedItem(url, url) for url in bodies]
    outcomes = [fetched(url, body, "ok" if body else "http_404") for url, body in bodies.items()]
    pages = page_results(extracted_pages(items, outcomes), keep_raw=keep)
    with transaction(db_url) as session:
        run_id = runs.start_run(session, source, None)
    with transaction(db_url) as session:
        articles.store_pages(session, run_id, pages)
    return run_id


def settings(db_url: str, **overrides: object) -> Settings:
    return Settings(database_url=db_url, extract_workers=0, **overrides)  # type: ignore[arg-type]


def raw_rows(db_url: str) -> list[RawPageRow]:
    with transaction(db_url) as session:
        return list(session.scalars(select(RawPageRow).order_by(RawPageRow.id)))


def revision_count(db_url: str) -> int:
    with transaction(db_url) as session:
        return int(session.scalar(select(func.count()).select_from(ArticleRevision)) or 0)


def pretend_old_extractor(db_url: str, text: str | None = None) -> None:
    """Make the stored articles look as if an older extractor had made them (and, with
    ``text``, the first one as if it had got that text)."""
    with transaction(db_url) as session:
        session.execute(update(Article).values(extractor_version="0.9"))
        if text is not None:
            first = session.scalars(select(func.min(Article.id))).one()
            session.execute(
                update(Article)
                .where(Article.id == first)
                .values(text=text, content_hash=content_hash(text), word_count=3)
            )


# -- keeping raw pages ---------------------------------------------------------------------------


def test_decompress_body_reads_zstd_and_older_zlib_rows() -> None:
    body = article_html(1)
    (raw,) = [
        p.raw
        for p in page_results(
            extracted_pages(
                [FeedItem("http://n.test/1", "http://n.test/1")], [fetched("http://n.test/1", body)]
            )
        )
    ]
    assert raw is not None and raw.encoding == "zstd" and len(raw.body) < len(body) / 2
    assert decompress_body(raw.body, "zstd") == body
    assert decompress_body(zlib.compress(body, 3), "zlib") == body
    with pytest.raises(ValueError, match="unknown raw page encoding"):
        decompress_body(raw.body, "brotli")


def test_page_results_compresses_fetched_bodies() -> None:
    body = article_html(1)
    outcomes = [fetched("http://n.test/1", body), fetched("http://n.test/2", None, "http_404")]
    items = [FeedItem(o.url, o.url) for o in outcomes]
    pages = page_results(extracted_pages(items, outcomes))
    raw = pages[0].raw
    assert (
        raw is not None
        and decompress_body(raw.body, raw.encoding) == body
        and raw.size == len(body)
    )
    assert pages[1].raw is None
    assert pages[0].fetch.body is None  # the fetch row itself never carries the body


def test_page_results_without_keep_raw_drops_bodies() -> None:
    outcomes = [fetched("http://n.test/1", article_html(1))]
    items = [FeedItem("http://n.test/1", "http://n.test/1")]
    (page,) = page_results(extracted_pages(items, outcomes), False)
    assert page.raw is None and page.article is not None


def test_store_pages_keeps_raw_page_with_its_fetch_and_article(migrated_db: str) -> None:
    body = article_html(1)
    ingest_pages(migrated_db, "news", {"http://n.test/1": body, "http://n.test/gone": None})
    (row,) = raw_rows(migrated_db)
    with transaction(migrated_db) as session:
        fetch = session.get_one(Fetch, row.fetch_id)
        article = session.scalars(select(Article)).one()
    assert (fetch.url, fetch.article_id, row.article_id) == (
        "http://n.test/1",
        article.id,
        article.id,
    )
    assert decompress_body(row.body, row.encoding) == body
    assert (row.size, row.compressed_size, row.encoding) == (len(body), len(row.body), "zstd")
    assert row.fetched_at == fetch.fetched_at


def test_store_pages_keeps_raw_page_of_failed_extraction(migrated_db: str) -> None:
    nav = b"<html><body><nav>Home | About</nav></body></html>"
    ingest_pages(migrated_db, "news", {"http://n.test/nav": nav})
    (row,) = raw_rows(migrated_db)
    assert row.article_id is None and decompress_body(row.body, row.encoding) == nav


def test_store_pages_without_raw_keeps_none(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)}, keep=False)
    assert raw_rows(migrated_db) == []


def test_store_pages_records_extractor_and_version(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)})
    with transaction(migrated_db) as session:
        article = session.scalars(select(Article)).one()
    assert (article.extractor, article.extractor_version) == ("trafilatura", trafilatura_version())
    assert trafilatura_version()[0].isdigit()


def test_prune_raw_pages_deletes_only_older_rows(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {f"http://n.test/{i}": article_html(i) for i in range(3)})
    old = datetime.now(UTC) - timedelta(days=40)
    with transaction(migrated_db) as session:
        first = session.scalars(select(RawPageRow.id).order_by(RawPageRow.id)).first()
        session.execute(update(RawPageRow).where(RawPageRow.id == first).values(fetched_at=old))
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert rawpages.prune_raw_pages(migrated_db, cutoff, dry_run=True) == 1
    assert rawpages.prune_raw_pages(migrated_db, cutoff) == 1
    assert [r.id for r in raw_rows(migrated_db)] != [first] and len(raw_rows(migrated_db)) == 2


def test_apply_retention_zero_days_keeps_everything(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)})
    with transaction(migrated_db) as session:
        session.execute(update(RawPageRow).values(fetched_at=datetime(2000, 1, 1, tzinfo=UTC)))
    assert apply_retention(settings(migrated_db, raw_html_retention_days=0)) == 0
    assert apply_retention(settings(migrated_db, raw_html_retention_days=30)) == 1


# -- reextract -----------------------------------------------------------------------------------


def test_reextract_restores_text_and_keeps_old_as_revision(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)})
    pretend_old_extractor(migrated_db, "an old poor text")

    counts = reextract(settings(migrated_db))

    assert (counts.examined, counts.changed, counts.revised, counts.failed) == (1, 1, 1, 0)
    with transaction(migrated_db) as session:
        article = session.scalars(select(Article)).one()
        revision = session.scalars(select(ArticleRevision)).one()
    assert "Report number 1 begins here" in article.text
    assert article.content_hash == content_hash(article.text)
    assert article.extractor_version == trafilatura_version()
    assert (revision.text, revision.extractor_version) == ("an old poor text", "0.9")


def test_reextract_same_text_updates_version_without_revision(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)})
    pretend_old_extractor(migrated_db)

    counts = reextract(settings(migrated_db))

    assert (counts.changed, counts.revised, counts.unchanged) == (1, 0, 0)
    assert revision_count(migrated_db) == 0
    with transaction(migrated_db) as session:
        assert session.scalars(select(Article.extractor_version)).one() == trafilatura_version()


def test_reextract_twice_changes_nothing_the_second_time(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {f"http://n.test/{i}": article_html(i) for i in range(3)})
    pretend_old_extractor(migrated_db, "an old poor text")
    reextract(settings(migrated_db))
    with transaction(migrated_db) as session:
        before = [
            (a.id, a.text, a.content_hash, a.minhash) for a in session.scalars(select(Article))
        ]

    counts = reextract(settings(migrated_db))

    assert (counts.examined, counts.changed, counts.unchanged) == (3, 0, 3)
    assert revision_count(migrated_db) == 1
    with transaction(migrated_db) as session:
        after = [
            (a.id, a.text, a.content_hash, a.minhash) for a in session.scalars(select(Article))
        ]
    assert after == before


def test_reextract_uses_latest_raw_page_per_article(migrated_db: str) -> None:
    url = "http://n.test/1"
    ingest_pages(migrated_db, "news", {url: article_html(1)})
    ingest_pages(
        migrated_db, "news", {url: article_html(1, "<p>A later correction paragraph.</p>")}
    )

    counts = reextract(settings(migrated_db))

    assert (counts.examined, counts.revised) == (1, 1)
    with transaction(migrated_db) as session:
        assert "later correction" in session.scalars(select(Article.text)).one()


def test_reextract_failure_leaves_article_untouched(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)})
    pretend_old_extractor(migrated_db, "an old poor text")

    counts = reextract(settings(migrated_db, max_html_bytes=100))

    assert (counts.examined, counts.failed, counts.reasons) == (1, 1, {"html_too_large": 1})
    with transaction(migrated_db) as session:
        assert session.scalars(select(Article.text)).one() == "an old poor text"


def test_reextract_only_named_source(migrated_db: str) -> None:
    ingest_pages(migrated_db, "one", {"http://n.test/1": article_html(1)})
    ingest_pages(migrated_db, "two", {"http://n.test/2": article_html(2)})
    pretend_old_extractor(migrated_db)

    counts = reextract(settings(migrated_db), source="two")

    assert (counts.examined, counts.changed) == (1, 1)
    with transaction(migrated_db) as session:
        versions = dict(session.execute(select(Article.url, Article.extractor_version)).all())
    assert versions == {"http://n.test/1": "0.9", "http://n.test/2": trafilatura_version()}


def test_reextract_since_skips_older_pages(migrated_db: str) -> None:
    ingest_pages(migrated_db, "news", {"http://n.test/1": article_html(1)})
    pretend_old_extractor(migrated_db)
    tomorrow = datetime.now(UTC) + timedelta(days=1)

    counts = reextract(settings(migrated_db), since=tomorrow)

    assert counts.examined == 0


def test_reextract_in_pool_extracts_and_reports_progress(sqlite_url: str) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    ingest_pages(sqlite_url, "news", {f"http://n.test/{i}": article_html(i) for i in range(3)})
    pretend_old_extractor(sqlite_url)
    seen: list[tuple[int, int]] = []

    counts = reextract(
        Settings(database_url=sqlite_url, extract_workers=1, batch_size=2),
        progress=lambda done, total: seen.append((done, total)),
    )

    assert (counts.examined, counts.changed) == (3, 3)
    assert seen == [(2, 3), (3, 3)]


# -- the commands --------------------------------------------------------------------------------


def test_cli_reextract_prints_counts_and_is_idempotent(sqlite_url: str, tmp_path: Path) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    ingest_pages(sqlite_url, "news", {f"http://n.test/{i}": article_html(i) for i in range(2)})
    pretend_old_extractor(sqlite_url, "an old poor text")

    first = run_cli(["reextract", "--source", "news"], sqlite_url, tmp_path)
    second = run_cli(["reextract", "--since", "2000-01-01"], sqlite_url, tmp_path)

    assert first.returncode == 0, first.stderr
    assert "examined 2, changed 2 (1 with a new text), unchanged 0, failed 0" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "examined 2, changed 0 (0 with a new text), unchanged 2, failed 0" in second.stdout


def test_cli_prune_deletes_raw_html_older_than(sqlite_url: str, tmp_path: Path) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    ingest_pages(sqlite_url, "news", {f"http://n.test/{i}": article_html(i) for i in range(2)})
    with transaction(sqlite_url) as session:
        first = session.scalars(select(func.min(RawPageRow.id))).one()
        ten_days = datetime.now(UTC) - timedelta(days=10)
        session.execute(
            update(RawPageRow).where(RawPageRow.id == first).values(fetched_at=ten_days)
        )

    by_default = run_cli(["prune", "--fetches-older-than", "365"], sqlite_url, tmp_path)
    by_option = run_cli(
        ["prune", "--fetches-older-than", "365", "--raw-html-older-than", "7"], sqlite_url, tmp_path
    )

    assert by_default.returncode == 0, by_default.stderr
    assert "raw_pages: deleted 0 row(s)" in by_default.stdout  # the 30-day retention keeps it
    assert by_option.returncode == 0, by_option.stderr
    assert "raw_pages: deleted 1 row(s)" in by_option.stdout
    assert len(raw_rows(sqlite_url)) == 1


def test_apply_rechecks_keeps_raw_page_of_refetch(migrated_db: str) -> None:
    url = "http://n.test/1"
    ingest_pages(migrated_db, "news", {url: article_html(1)})
    with transaction(migrated_db) as session:
        (recheck,) = revisions.articles_to_recheck(
            session, "news", datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC), 10
        )
    body = article_html(1, "<p>An update appended to the report.</p>")
    outcomes = [fetched(url, body)]
    (page,) = page_results(extracted_pages([FeedItem(url, url)], outcomes))
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "news", None)

    with transaction(migrated_db) as session:
        counts = revisions.apply_rechecks(session, run_id, [(recheck, page)])

    assert counts.revised == 1
    latest = raw_rows(migrated_db)[-1]
    assert (latest.article_id, decompress_body(latest.body, latest.encoding)) == (
        recheck.article_id,
        body,
    )
    with transaction(migrated_db) as session:
        revision = session.scalars(select(ArticleRevision)).one()
    assert revision.extractor_version == trafilatura_version()
