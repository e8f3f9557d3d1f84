"""The SQL of storing a batch of fetched pages: new articles, their URLs, authors and tags, exact
and near-duplicate links (MinHash LSH), and "which URLs are stored already?". Every function works
in the caller's session: storing one batch is one transaction, opened by the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from storage.feeds import add_page_fetches, fetch_row, link_feed_items
from storage.models import (
    Article,
    ArticleAuthor,
    ArticleTag,
    ArticleURL,
    Author,
    MinhashBand,
    Tag,
    utcnow,
)
from storage.runs import heartbeat
from storage.sql import chunks, dialect_insert, insert_ignoring, run_source
from tasks.records import ExtractedArticle, FetchOutcome, PageResult, RawPage, RunCounts

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


def known_urls(session: Session, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` an article was already stored under (checked before fetching)."""
    found: set[str] = set()
    for chunk in chunks(list(urls)):
        rows = session.execute(select(ArticleURL.url).where(ArticleURL.url.in_(chunk)))
        found.update(rows.scalars())
    return found


def _names_to_ids(
    session: Session, model: type[Author] | type[Tag], names: Iterable[str]
) -> dict[str, int]:
    """The ids of ``names`` (rows created, in the given order, where missing)."""
    ordered = list(dict.fromkeys(names))
    if not ordered:
        return {}
    insert_ignoring(session, model, [{"name": n} for n in ordered])
    found: dict[str, int] = {}
    for chunk in chunks(ordered):
        rows = session.execute(select(model.name, model.id).where(model.name.in_(chunk)))
        found.update({name: id_ for name, id_ in rows})
    return found


def _authors(article: ExtractedArticle) -> list[str]:
    return list(dict.fromkeys(a[:255] for a in article.authors))


def _tags(article: ExtractedArticle) -> set[str]:
    return {t[:255] for t in article.tags}


def link_terms_many(session: Session, linked: Sequence[tuple[int, ExtractedArticle]]) -> None:
    """Link the articles (id, record) to their authors (in order) and tags: one insert per table
    for the whole batch."""
    author_ids = _names_to_ids(session, Author, (n for _, a in linked for n in sorted(_authors(a))))
    tag_ids = _names_to_ids(session, Tag, (n for _, a in linked for n in sorted(_tags(a))))
    authors = [
        {"article_id": article_id, "author_id": author_ids[name], "position": i}
        for article_id, article in linked
        for i, name in enumerate(_authors(article))
    ]
    tags = [
        {"article_id": article_id, "tag_id": tag_ids[name]}
        for article_id, article in linked
        for name in sorted(_tags(article))
    ]
    insert_ignoring(session, ArticleAuthor, authors)
    insert_ignoring(session, ArticleTag, tags)


def link_terms(session: Session, article_id: int, article: ExtractedArticle) -> None:
    """Link one article to its authors (in order) and tags."""
    link_terms_many(session, [(article_id, article)])


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
    statement = dialect_insert(session, Article).values(values).on_conflict_do_nothing()
    return session.execute(statement.returning(Article.id)).scalar_one_or_none()


def _story_date(session: Session, article_id: int) -> datetime:
    published, created = session.execute(
        select(Article.published_at, Article.created_at).where(Article.id == article_id)
    ).one()
    return published or created


def find_near_duplicate(
    session: Session, article: ExtractedArticle, near: NearDup, exclude: int | None = None
) -> tuple[int, float] | None:
    """The stored article ``article`` would be linked to, if any: LSH candidates sharing a band,
    published within the window, verified by the matcher (read-only)."""
    if not article.bands:
        return None
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


def _link_near_duplicate(
    session: Session, article_id: int, article: ExtractedArticle, near: NearDup
) -> bool:
    """Index the article's LSH bands; if a stored article within the window is a verified
    near-duplicate, put the new one in its story cluster, whose root is the earliest-published
    member. True when it was linked."""
    if not article.bands:
        return False
    match = find_near_duplicate(session, article, near, exclude=article_id)
    rows = [{"band": i, "hash": h, "article_id": article_id} for i, h in enumerate(article.bands)]
    session.execute(dialect_insert(session, MinhashBand).values(rows).on_conflict_do_nothing())
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


@dataclass(slots=True)
class _Batch:
    """The rows of one batch written after its articles: one insert per table."""

    terms: list[tuple[int, ExtractedArticle]] = field(default_factory=list)
    urls: list[dict[str, Any]] = field(default_factory=list)
    links: list[tuple[str, int]] = field(default_factory=list)
    fetches: list[tuple[FetchOutcome, RawPage | None, int | None]] = field(default_factory=list)


def _store_article(
    session: Session, source_id: int, run_id: int, page: PageResult, near: NearDup | None
) -> tuple[int, RunCounts]:
    """Store the page's article, or find the stored one it collides with: its id and how it
    counts (``new``, and ``duplicates`` when linked as a near-copy; ``already_stored`` for the
    same URL, ``duplicates`` for the same text)."""
    article = page.article
    assert article is not None
    article_id = _insert_article(session, source_id, run_id, article, page.fetch)
    if article_id is None:
        article_id, same_url = _existing(session, article)
        return article_id, RunCounts(already_stored=int(same_url), duplicates=int(not same_url))
    linked = near is not None and _link_near_duplicate(session, article_id, article, near)
    return article_id, RunCounts(new=1, duplicates=int(linked))


def store_pages(
    session: Session,
    run_id: int,
    pages: Sequence[PageResult],
    extra: Sequence[FetchOutcome] = (),
    near: NearDup | None = None,
) -> RunCounts:
    """Store one batch in the caller's transaction: fetch rows (``extra``: robots.txt fetches),
    kept raw pages, new articles, authors, tags, URL aliases, feed-item links, LSH bands and
    near-duplicate links (``near``).

    Idempotent: a page whose canonical URL or text is already stored adds only its URLs as aliases.
    ``duplicates`` counts exact copies (stored only as aliases) and near-copies (stored, linked).
    """
    counts = RunCounts()
    source_id = run_source(session, run_id)
    heartbeat(session, run_id)
    session.add_all(fetch_row(run_id, source_id, o, None) for o in extra)
    if near is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(NEAR_DUP_LOCK)))
    batch = _Batch()
    for page in pages:
        article_id = None
        if page.article is None:
            counts.failed += 1
        else:
            article_id, stored = _store_article(session, source_id, run_id, page, near)
            counts.add(stored)
            if stored.new:
                batch.terms.append((article_id, page.article))
            now, article = utcnow(), page.article
            aliases = {page.item.url, page.item.canonical_url, article.url, article.canonical_url}
            batch.urls += [
                {"url": u, "article_id": article_id, "created_at": now} for u in sorted(aliases)
            ]
            batch.links.append((page.item.canonical_url, article_id))
        batch.fetches.append((page.fetch, page.raw, article_id))
    link_terms_many(session, batch.terms)
    insert_ignoring(session, ArticleURL, batch.urls)
    link_feed_items(session, source_id, batch.links)
    add_page_fetches(session, run_id, source_id, batch.fetches)
    return counts
