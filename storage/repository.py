"""All SQL of the pipeline: dialect-aware idempotent upserts, one transaction per batch."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.engine import reading, transaction
from storage.models import (
    Article,
    ArticleAuthor,
    ArticleRevision,
    ArticleTag,
    ArticleURL,
    Author,
    FeedItemRow,
    FeedStateRow,
    Fetch,
    IngestRun,
    MinhashBand,
    RawPageRow,
    Source,
    Tag,
    utcnow,
)
from tasks.records import (
    ExtractedArticle,
    FeedItem,
    FeedState,
    FetchOutcome,
    PageResult,
    RawPage,
    Recheck,
    RunCounts,
)

CHUNK = 500
GONE_STATUSES = (404, 410)  # a re-check answered so: the page was removed
# One PostgreSQL advisory lock serializes the near-duplicate decisions of concurrent batches (two
# workers storing copies of one story must see each other, or they would start two clusters).
NEAR_DUP_LOCK = 0x6E657773666C6F77  # "newsflow"

# Decides whether a signature matches one of the candidates: (candidate id, similarity) or None.
Matcher = Callable[[bytes, Sequence[tuple[int, bytes]]], "tuple[int, float] | None"]


@dataclass(frozen=True, slots=True)
class NearDup:
    """How :func:`store_pages` links near-duplicates: the matcher and the recency window."""

    matcher: Matcher
    window: timedelta = timedelta(days=30)


def _insert(session: Session, table: Any) -> Any:
    """``INSERT`` of the session's dialect, which offers ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def ensure_source(session: Session, name: str) -> int:
    session.execute(_insert(session, Source).values(name=name).on_conflict_do_nothing())
    return session.execute(select(Source.id).where(Source.name == name)).scalar_one()


def start_run(
    db_url: str,
    source_name: str,
    flow_run_id: str | None,
    host: str | None = None,
    pid: int | None = None,
) -> int:
    """Create the ``ingest_runs`` row (status ``running``, with who runs it) and return its id."""
    with transaction(db_url) as session:
        source_id = ensure_source(session, source_name)
        run = IngestRun(
            source_id=source_id,
            flow_run_id=flow_run_id,
            status="running",
            host=host,
            pid=pid,
            heartbeat_at=utcnow(),
        )
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    db_url: str,
    run_id: int,
    counts: RunCounts,
    status: str,
    error: str | None = None,
    feed_states: Sequence[FeedState] = (),
) -> None:
    """Close the run with its counts; in the same transaction remember its feeds' conditional-GET
    state (``feed_states``: given only when the run completed, so a run that crashed or failed
    after discovery leaves its feeds to be read again by the next run)."""
    with transaction(db_url) as session:
        for state in feed_states:
            session.merge(_feed_state_row(state))
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                error=error,
                feed_items=counts.feed_items,
                fetched=counts.fetched,
                new=counts.new,
                already_stored=counts.already_stored,
                duplicates=counts.duplicates,
                failed=counts.failed,
                revised=counts.revised,
            )
        )


# Says whether the process behind a ``running`` row is gone: (host, pid, last heartbeat, when
# the run started).
IsDead = Callable[[str | None, int | None, datetime | None, datetime | None], bool]


def close_dead_runs(db_url: str, source_name: str, is_dead: IsDead) -> int:
    """Mark the source's ``running`` rows whose process is gone (killed, machine lost) as
    ``crashed``, so no run stays "running" forever; returns how many."""
    with transaction(db_url) as session:
        rows = session.execute(
            select(
                IngestRun.id,
                IngestRun.host,
                IngestRun.pid,
                IngestRun.heartbeat_at,
                IngestRun.started_at,
            )
            .join(Source, Source.id == IngestRun.source_id)
            .where(Source.name == source_name, IngestRun.status == "running")
        ).all()
        dead = [r[0] for r in rows if is_dead(r[1], r[2], r[3], r[4])]
        if dead:
            session.execute(
                update(IngestRun)
                .where(IngestRun.id.in_(dead))
                .values(status="crashed", finished_at=utcnow(), error="its process was gone")
            )
        return len(dead)


def _heartbeat(session: Session, run_id: int) -> None:
    session.execute(update(IngestRun).where(IngestRun.id == run_id).values(heartbeat_at=utcnow()))


def abandon_runs(db_url: str, flow_run_id: str, status: str, error: str) -> int:
    """Close the ``running`` rows of a flow run that ended abnormally (crashed, cancelled,
    failed); returns how many were closed."""
    with transaction(db_url) as session:
        result = session.execute(
            update(IngestRun)
            .where(IngestRun.flow_run_id == flow_run_id, IngestRun.status == "running")
            .values(status=status, finished_at=utcnow(), error=error[:2000])
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def failures_by_reason(db_url: str, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per ingest run: how many fetches ended with each failure reason."""
    ok = ("ok", "not_modified")
    with transaction(db_url) as session:
        rows = session.execute(
            select(Fetch.ingest_run_id, Fetch.reason, func.count())
            .where(Fetch.ingest_run_id.in_(list(run_ids)), Fetch.reason.not_in(ok))
            .where(Fetch.kind != "robots")  # its consequence is on the pages (host_skipped)
            .group_by(Fetch.ingest_run_id, Fetch.reason)
        ).all()
    out: dict[int, dict[str, int]] = {}
    for run_id, reason, count in rows:
        out.setdefault(int(run_id or 0), {})[str(reason)] = int(count)
    return out


def known_urls(db_url: str, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` an article was already stored under (checked before fetching)."""
    found: set[str] = set()
    with transaction(db_url) as session:
        for chunk in _chunks(list(urls)):
            rows = session.execute(select(ArticleURL.url).where(ArticleURL.url.in_(chunk)))
            found.update(rows.scalars())
    return found


def _fetch_row(run_id: int, source_id: int, outcome: FetchOutcome, article_id: int | None) -> Fetch:
    return Fetch(
        source_id=source_id,
        ingest_run_id=run_id,
        article_id=article_id,
        kind=outcome.kind,
        url=outcome.url,
        final_url=outcome.final_url,
        status_code=outcome.status_code,
        reason=outcome.reason,
        detail=outcome.detail,
        content_type=(outcome.content_type or "")[:255] or None,
        duration_ms=outcome.duration_ms,
        bytes=outcome.bytes_read,
        fetched_at=outcome.started_at or utcnow(),
    )


def record_fetches(
    db_url: str,
    run_id: int,
    outcomes: Sequence[FetchOutcome],
    feed_states: Sequence[FeedState] = (),
) -> None:
    """Record attempts that produced no article (feeds, robots.txt) and the feeds' new
    conditional-GET state, in one transaction."""
    with transaction(db_url) as session:
        source_id = _run_source(session, run_id)
        session.add_all(_fetch_row(run_id, source_id, o, None) for o in outcomes)
        for state in feed_states:
            session.merge(_feed_state_row(state))


def _feed_item_values(source_id: int, item: FeedItem, now: datetime) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "feed_url": item.feed_url,
        "guid": item.guid,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "published_at": item.published_at,
        "updated_at": item.updated_at,
        "author": item.author,
        "summary": item.summary,
        "categories": json.dumps(list(item.categories), ensure_ascii=False)
        if item.categories
        else None,
        "first_seen_at": now,
        "last_seen_at": now,
    }


_FEED_ITEM_UPDATES = (
    "feed_url",
    "guid",
    "url",
    "title",
    "published_at",
    "updated_at",
    "author",
    "summary",
    "categories",
    "last_seen_at",
)


def record_feed_items(db_url: str, run_id: int, items: Sequence[FeedItem]) -> None:
    """Upsert what the source's documents said about its items (one row per source and canonical
    URL: the latest reading wins, ``first_seen_at`` stays), and link rows whose URL is already
    an article's. Idempotent: a replayed batch changes nothing but ``last_seen_at``."""
    now = utcnow()
    with transaction(db_url) as session:
        source_id = _run_source(session, run_id)
        for start in range(0, len(items), CHUNK):
            rows = [_feed_item_values(source_id, i, now) for i in items[start : start + CHUNK]]
            statement = _insert(session, FeedItemRow).values(rows)
            statement = statement.on_conflict_do_update(
                index_elements=["source_id", "canonical_url"],
                set_={name: getattr(statement.excluded, name) for name in _FEED_ITEM_UPDATES},
            )
            session.execute(statement)
        known = (
            select(ArticleURL.article_id)
            .where(ArticleURL.url == FeedItemRow.canonical_url)
            .scalar_subquery()
        )
        for chunk in _chunks([i.canonical_url for i in items]):
            session.execute(
                update(FeedItemRow)
                .where(FeedItemRow.source_id == source_id, FeedItemRow.article_id.is_(None))
                .where(FeedItemRow.canonical_url.in_(chunk))
                .values(article_id=known)
            )


def _link_feed_item(session: Session, source_id: int, canonical_url: str, article_id: int) -> None:
    session.execute(
        update(FeedItemRow)
        .where(FeedItemRow.source_id == source_id, FeedItemRow.canonical_url == canonical_url)
        .values(article_id=article_id)
    )


def _feed_state_row(state: FeedState) -> FeedStateRow:
    return FeedStateRow(
        url=state.url,
        etag=(state.etag or "")[:1000] or None,
        last_modified=(state.last_modified or "")[:64] or None,
        body_hash=state.body_hash,
        conditional_ok=state.conditional_ok,
        last_not_modified_at=state.last_not_modified_at,
        last_unconditional_at=state.last_unconditional_at,
        updated_at=utcnow(),
    )


def feed_states(db_url: str, urls: Sequence[str]) -> dict[str, FeedState]:
    """What we remember of these feeds from earlier runs."""
    with transaction(db_url) as session:
        rows = session.scalars(select(FeedStateRow).where(FeedStateRow.url.in_(list(urls))))
        return {
            row.url: FeedState(
                url=row.url,
                etag=row.etag,
                last_modified=row.last_modified,
                body_hash=row.body_hash,
                conditional_ok=row.conditional_ok,
                last_not_modified_at=row.last_not_modified_at,
                last_unconditional_at=row.last_unconditional_at,
            )
            for row in rows
        }


def _run_source(session: Session, run_id: int) -> int:
    return session.execute(select(IngestRun.source_id).where(IngestRun.id == run_id)).scalar_one()


def _names_to_ids(
    session: Session, model: type[Author] | type[Tag], names: set[str]
) -> dict[str, int]:
    if not names:
        return {}
    rows = [{"name": n} for n in sorted(names)]
    session.execute(_insert(session, model).values(rows).on_conflict_do_nothing())
    found = session.execute(select(model.name, model.id).where(model.name.in_(names)))
    return {name: id_ for name, id_ in found}


def _add_urls(session: Session, article_id: int, urls: Iterable[str]) -> None:
    rows = [{"url": u, "article_id": article_id, "created_at": utcnow()} for u in sorted(set(urls))]
    if rows:
        session.execute(_insert(session, ArticleURL).values(rows).on_conflict_do_nothing())


def _insert_article(
    session: Session,
    source_id: int,
    run_id: int,
    article: ExtractedArticle,
    fetch: FetchOutcome,
) -> int | None:
    """Insert unless the canonical URL or the text is already stored; the new id or ``None``."""
    fetched_at = fetch.started_at or utcnow()
    etag, last_modified = fetch.etag, (fetch.last_modified or "")[:64] or None
    values = {
        "source_id": source_id,
        "ingest_run_id": run_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "content_hash": article.content_hash,
        "title": article.title,
        "description": article.description,
        "text": article.text,
        "language": article.language,
        "site_name": article.site_name,
        "image_url": article.image_url,
        "word_count": article.word_count,
        "published_at": article.published_at,
        "modified_at": article.modified_at,
        "fetched_at": fetched_at,
        "created_at": utcnow(),
        "minhash": article.minhash or None,
        "etag": etag,
        "last_modified": last_modified,
        "checked_at": fetched_at,
        "title_source": article.title_source,
        "date_source": article.date_source,
        "authors_source": article.authors_source,
        "extractor": article.extractor[:32],
        "extractor_version": article.extractor_version[:32],
    }
    statement = _insert(session, Article).values(values).on_conflict_do_nothing()
    return session.execute(statement.returning(Article.id)).scalar_one_or_none()


def link_terms(session: Session, article_id: int, article: ExtractedArticle) -> None:
    authors = {a[:255] for a in article.authors}
    author_ids = _names_to_ids(session, Author, authors)
    if author_ids:
        rows = [
            {"article_id": article_id, "author_id": author_ids[name[:255]], "position": i}
            for i, name in enumerate(dict.fromkeys(a[:255] for a in article.authors))
        ]
        session.execute(_insert(session, ArticleAuthor).values(rows).on_conflict_do_nothing())
    tag_ids = _names_to_ids(session, Tag, {t[:255] for t in article.tags})
    if tag_ids:
        rows = [{"article_id": article_id, "tag_id": tid} for tid in tag_ids.values()]
        session.execute(_insert(session, ArticleTag).values(rows).on_conflict_do_nothing())


def _story_date(session: Session, article_id: int) -> datetime:
    published, created = session.execute(
        select(Article.published_at, Article.created_at).where(Article.id == article_id)
    ).one()
    return published or created


def _find_near_duplicate(
    session: Session, article: ExtractedArticle, near: NearDup, exclude: int | None = None
) -> tuple[int, float] | None:
    """LSH candidates sharing a band, published within the window, verified by the matcher."""
    when = article.published_at or utcnow()
    date = func.coalesce(Article.published_at, Article.created_at)
    bands = or_(
        *(and_(MinhashBand.band == i, MinhashBand.hash == h) for i, h in enumerate(article.bands))
    )
    query = (
        select(Article.id, Article.minhash)
        .where(Article.id.in_(select(MinhashBand.article_id).where(bands)))
        .where(date >= when - near.window, date <= when + near.window)
    )
    if exclude is not None:
        query = query.where(Article.id != exclude)
    rows = session.execute(query).all()
    return near.matcher(article.minhash, [(r[0], bytes(r[1] or b"")) for r in rows])


def find_near_duplicate(
    db_url: str, article: ExtractedArticle, near: NearDup
) -> tuple[int, float] | None:
    """The stored article ``article`` would be linked to, if any (read-only lookup)."""
    if not article.bands:
        return None
    with reading(db_url) as connection, Session(bind=connection) as session:
        return _find_near_duplicate(session, article, near)


def _link_near_duplicate(
    session: Session, article_id: int, article: ExtractedArticle, near: NearDup
) -> bool:
    """Index the article's LSH bands; if a stored article within the window is a verified
    near-duplicate, put the new one in its story cluster, whose root is the earliest-published
    member. True when it was linked."""
    if not article.bands:
        return False
    match = _find_near_duplicate(session, article, near, exclude=article_id)
    rows = [{"band": i, "hash": h, "article_id": article_id} for i, h in enumerate(article.bands)]
    session.execute(_insert(session, MinhashBand).values(rows).on_conflict_do_nothing())
    if match is None:
        return False
    when = article.published_at or utcnow()
    other, score = match
    root = session.execute(select(Article.duplicate_of).where(Article.id == other)).scalar_one()
    root = root or other
    linked = {"dedup_method": "minhash", "similarity": round(score, 4)}
    if when < _story_date(session, root):  # the new article is the earliest: it becomes the root
        session.execute(
            update(Article).where(Article.duplicate_of == root).values(duplicate_of=article_id)
        )
        session.execute(
            update(Article).where(Article.id == root).values(duplicate_of=article_id, **linked)
        )
    else:
        session.execute(
            update(Article).where(Article.id == article_id).values(duplicate_of=root, **linked)
        )
    return True


def _existing(session: Session, article: ExtractedArticle) -> tuple[int, bool]:
    """The stored article this one collides with, and whether it is the same URL."""
    same_url = session.execute(
        select(Article.id).where(Article.canonical_url == article.canonical_url)
    ).scalar_one_or_none()
    if same_url is not None:
        return same_url, True
    same_text = session.execute(
        select(Article.id).where(Article.content_hash == article.content_hash)
    ).scalar_one()
    return same_text, False


def _add_fetch(
    session: Session, run_id: int, source_id: int, page: PageResult, article_id: int | None
) -> None:
    """The page's ``fetches`` row and, when its body was kept, its ``raw_pages`` row."""
    fetch = _fetch_row(run_id, source_id, page.fetch, article_id)
    session.add(fetch)
    if page.raw is None:
        return
    session.flush()  # the fetch row's id
    session.add(_raw_row(page.raw, fetch, article_id))


def _raw_row(raw: RawPage, fetch: Fetch, article_id: int | None) -> RawPageRow:
    return RawPageRow(
        fetch_id=fetch.id,
        article_id=article_id,
        source_id=fetch.source_id,
        url=raw.url,
        content_type=raw.content_type,
        encoding=raw.encoding,
        body=raw.body,
        size=raw.size,
        compressed_size=len(raw.body),
        fetched_at=fetch.fetched_at,
    )


def store_pages(
    db_url: str,
    run_id: int,
    pages: Sequence[PageResult],
    extra: Sequence[FetchOutcome] = (),
    near: NearDup | None = None,
) -> RunCounts:
    """Store one batch in one transaction: fetch rows (``extra``: robots.txt fetches), new
    articles, authors, tags, URL aliases, LSH bands and near-duplicate links (``near``).

    Idempotent: a page whose canonical URL or text is already stored adds only its URLs as aliases.
    ``duplicates`` counts exact copies (stored only as aliases) and near-copies (stored, linked).
    """
    counts = RunCounts()
    with transaction(db_url) as session:
        source_id = _run_source(session, run_id)
        _heartbeat(session, run_id)
        session.add_all(_fetch_row(run_id, source_id, o, None) for o in extra)
        if near is not None and session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(NEAR_DUP_LOCK)))
        for page in pages:
            article_id = None
            if page.article is None:
                counts.failed += 1
            else:
                article = page.article
                article_id = _insert_article(session, source_id, run_id, article, page.fetch)
                if article_id is not None:
                    counts.new += 1
                    link_terms(session, article_id, article)
                    if near is not None and _link_near_duplicate(
                        session, article_id, article, near
                    ):
                        counts.duplicates += 1
                else:
                    article_id, same_url = _existing(session, article)
                    if same_url:
                        counts.already_stored += 1
                    else:
                        counts.duplicates += 1
                aliases = (
                    page.item.url,
                    page.item.canonical_url,
                    article.url,
                    article.canonical_url,
                )
                _add_urls(session, article_id, aliases)
                _link_feed_item(session, source_id, page.item.canonical_url, article_id)
            _add_fetch(session, run_id, source_id, page, article_id)
    return counts


def article_count(db_url: str) -> int:
    with transaction(db_url) as session:
        return session.execute(select(func.count()).select_from(Article)).scalar_one()


def articles_to_recheck(
    db_url: str, source_name: str, younger_than: datetime, checked_before: datetime, limit: int
) -> list[Recheck]:
    """The source's articles stored after ``younger_than`` and not re-checked since
    ``checked_before``, unless their page is gone: candidates for a conditional re-fetch
    (revisions)."""
    with transaction(db_url) as session:
        rows = session.execute(
            select(Article.id, Article.url, Article.etag, Article.last_modified)
            .join(Source, Source.id == Article.source_id)
            .where(Source.name == source_name, Article.created_at >= younger_than)
            .where(or_(Article.checked_at.is_(None), Article.checked_at < checked_before))
            .where(Article.gone_at.is_(None))
            .order_by(Article.created_at.desc())
            .limit(limit)
        ).all()
    return [Recheck(r[0], r[1], r[2], r[3]) for r in rows]


def revise_article(
    session: Session,
    article_id: int,
    new: ExtractedArticle,
    fetched_at: datetime,
    revised_at: datetime | None = None,
) -> bool:
    """Replace the article's text with ``new``'s, keeping the old one (and the extractor that
    made it) as an ``article_revisions`` row. False (and nothing changed) when the text is the same
    or is another article's."""
    old = session.get_one(Article, article_id)
    if old.content_hash == new.content_hash:
        return False
    taken = session.execute(
        select(Article.id).where(Article.content_hash == new.content_hash)
    ).scalar_one_or_none()
    if taken is not None:
        return False
    session.add(
        ArticleRevision(
            article_id=article_id,
            content_hash=old.content_hash,
            title=old.title,
            text=old.text,
            fetched_at=old.fetched_at,
            replaced_at=utcnow(),
            extractor=old.extractor,
            extractor_version=old.extractor_version,
        )
    )
    old.text, old.content_hash, old.title = new.text, new.content_hash, new.title or old.title
    old.description = new.description or old.description
    old.modified_at = new.modified_at or old.modified_at
    old.word_count, old.minhash, old.fetched_at = new.word_count, new.minhash or None, fetched_at
    old.revised_at = revised_at or fetched_at
    old.extractor, old.extractor_version = new.extractor[:32], new.extractor_version[:32]
    replace_bands(session, article_id, new.bands)
    return True


def replace_bands(session: Session, article_id: int, bands: Sequence[int]) -> None:
    """The article's LSH band rows, replaced by ``bands``."""
    session.execute(delete(MinhashBand).where(MinhashBand.article_id == article_id))
    rows = [{"band": i, "hash": h, "article_id": article_id} for i, h in enumerate(bands)]
    if rows:
        session.execute(_insert(session, MinhashBand).values(rows).on_conflict_do_nothing())


def apply_rechecks(
    db_url: str, run_id: int, rechecks: Sequence[Recheck], pages: Sequence[PageResult]
) -> RunCounts:
    """Record the re-fetches of ``rechecks`` (``pages`` in the same order) in one transaction: a
    304 or an unchanged text only marks the article checked; a changed text becomes the current
    one and the old text an ``article_revisions`` row; a 404 or 410 marks the article gone (its
    text is kept; it is not re-checked again). Other failures count as failed and are retried at
    the next re-check."""
    counts = RunCounts()
    now = utcnow()
    with transaction(db_url) as session:
        source_id = _run_source(session, run_id)
        _heartbeat(session, run_id)
        for recheck, page in zip(rechecks, pages, strict=True):
            values: dict[str, Any] = {"checked_at": now}
            if page.fetch.etag or page.fetch.last_modified:
                values["etag"] = page.fetch.etag
                values["last_modified"] = (page.fetch.last_modified or "")[:64] or None
            fetched_at = page.fetch.started_at or now
            article = page.article
            if article is not None and revise_article(
                session, recheck.article_id, article, fetched_at
            ):
                counts.revised += 1
            elif not (page.fetch.ok or page.fetch.reason == "not_modified"):
                counts.failed += 1
                if page.fetch.status_code in GONE_STATUSES:
                    values["gone_at"] = fetched_at
            session.execute(
                update(Article).where(Article.id == recheck.article_id).values(**values)
            )
            _add_fetch(session, run_id, source_id, page, recheck.article_id)
    return counts
