"""The SQL of revisions: which stored articles are due for a conditional re-fetch, and applying
the re-fetches (a changed text becomes the current one, the old one an ``article_revisions``
row; a removed page is marked gone). Every function works in the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from storage.feeds import add_page_fetches
from storage.models import Article, ArticleRevision, MinhashBand, Source, utcnow
from storage.runs import heartbeat
from storage.sql import insert_ignoring, run_source
from tasks.records import ExtractedArticle, PageResult, Reason, Recheck, RunCounts

GONE_STATUSES = (404, 410)  # a re-check answered so: the page was removed


def articles_to_recheck(
    session: Session,
    source_name: str,
    younger_than: datetime,
    checked_before: datetime,
    limit: int,
) -> list[Recheck]:
    """The source's articles stored after ``younger_than`` and not re-checked since
    ``checked_before``, unless their page is gone: candidates for a conditional re-fetch
    (revisions)."""
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
    old.is_accessible_for_free, old.paywall_teaser = new.accessible_for_free, new.paywall_teaser
    replace_bands(session, article_id, new.bands)
    return True


def replace_bands(session: Session, article_id: int, bands: Sequence[int]) -> None:
    """The article's LSH band rows, replaced by ``bands``."""
    session.execute(delete(MinhashBand).where(MinhashBand.article_id == article_id))
    rows = [{"band": i, "hash": h, "article_id": article_id} for i, h in enumerate(bands)]
    insert_ignoring(session, MinhashBand, rows)


def apply_rechecks(
    session: Session, run_id: int, rechecked: Sequence[tuple[Recheck, PageResult]]
) -> RunCounts:
    """Record the re-fetches (each re-check with its page): a 304 or an unchanged text only marks
    the article checked; a changed text becomes the current one and the old text an
    ``article_revisions`` row; a 404 or 410 marks the article gone (its text is kept; it is not
    re-checked again). Other failures count as failed and are retried at the next re-check."""
    counts = RunCounts()
    now = utcnow()
    source_id = run_source(session, run_id)
    heartbeat(session, run_id)
    for recheck, page in rechecked:
        values: dict[str, Any] = {"checked_at": now}
        if page.fetch.etag or page.fetch.last_modified:
            values["etag"] = page.fetch.etag
            values["last_modified"] = (page.fetch.last_modified or "")[:64] or None
        fetched_at = page.fetch.started_at or now
        article = page.article
        if article is not None and revise_article(session, recheck.article_id, article, fetched_at):
            counts.revised += 1
        elif not (page.fetch.ok or page.fetch.reason == Reason.NOT_MODIFIED):
            counts.failed += 1
            if page.fetch.status_code in GONE_STATUSES:
                values["gone_at"] = fetched_at
        session.execute(update(Article).where(Article.id == recheck.article_id).values(**values))
    fetches = [(page.fetch, page.raw, recheck.article_id) for recheck, page in rechecked]
    add_page_fetches(session, run_id, source_id, fetches)
    return counts
