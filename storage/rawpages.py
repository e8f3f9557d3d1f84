"""The SQL of kept raw HTML: picking pages to re-extract, applying re-extractions (in the caller's
session), retention (``prune_raw_pages`` takes the URL: it runs one short transaction per chunk)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.articles import link_terms
from storage.engine import reading, transaction
from storage.models import Article, ArticleAuthor, ArticleTag, Author, RawPageRow, Source, Tag
from storage.revisions import replace_bands, revise_article
from tasks.records import ExtractedArticle, Reason

PRUNE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredPage:
    """The latest kept page of an article, as read back for re-extraction (body compressed)."""

    raw_id: int
    article_id: int
    url: str
    content_type: str | None
    encoding: str
    body: bytes = field(repr=False)
    fetched_at: datetime
    source: str = ""  # the source's name (its learned boilerplate is stripped again)


@dataclass(slots=True)
class ReextractCounts:
    """What ``newsflow reextract`` did: ``changed`` articles had any stored field updated, of
    which ``revised`` got a new text (the old one kept in ``article_revisions``)."""

    examined: int = 0
    changed: int = 0
    revised: int = 0
    unchanged: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def add(self, other: ReextractCounts) -> None:
        self.examined += other.examined
        self.changed += other.changed
        self.revised += other.revised
        self.unchanged += other.unchanged
        self.failed += other.failed
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def pages_to_reextract(
    session: Session, source: str | None = None, since: datetime | None = None
) -> list[int]:
    """Ids of the latest kept page of every article (of ``source``, fetched since ``since``),
    oldest article first."""
    latest = (
        select(func.max(RawPageRow.id).label("raw_id"))
        .where(RawPageRow.article_id.is_not(None))
        .group_by(RawPageRow.article_id)
        .subquery()
    )
    query = (
        select(RawPageRow.id)
        .join(latest, latest.c.raw_id == RawPageRow.id)
        .order_by(RawPageRow.article_id)
    )
    if source is not None:
        query = query.join(Source, Source.id == RawPageRow.source_id).where(Source.name == source)
    if since is not None:
        query = query.where(RawPageRow.fetched_at >= since)
    return [int(i) for i in session.execute(query).scalars()]


def load_pages(session: Session, raw_ids: Sequence[int]) -> list[StoredPage]:
    """The kept pages ``raw_ids``, in that order."""
    columns = (
        RawPageRow.id,
        RawPageRow.article_id,
        RawPageRow.url,
        RawPageRow.content_type,
        RawPageRow.encoding,
        RawPageRow.body,
        RawPageRow.fetched_at,
        Source.name,
    )
    query = (
        select(*columns)
        .join(Source, Source.id == RawPageRow.source_id)
        .where(RawPageRow.id.in_(list(raw_ids)))
    )
    rows = session.execute(query).all()
    found = {
        row[0]: StoredPage(
            row[0], row[1] or 0, row[2], row[3], row[4], bytes(row[5]), row[6], row[7]
        )
        for row in rows
    }
    return [found[i] for i in raw_ids if i in found]


def _metadata(article: ExtractedArticle) -> dict[str, object]:
    values: dict[str, object] = {
        "title": article.title,
        "description": article.description,
        "language": article.language,
        "site_name": article.site_name,
        "image_url": article.image_url,
        "published_at": article.published_at,
        "modified_at": article.modified_at,
        # where they came from, when the page gave them (else the stored values, e.g. the feed's)
        "title_source": (article.title_source or "page") if article.title else None,
        "date_source": (article.date_source or "page") if article.published_at else None,
        "extractor": article.extractor[:32],
        "extractor_version": article.extractor_version[:32],
        "is_accessible_for_free": article.accessible_for_free,
        "paywall_teaser": article.paywall_teaser,
    }
    return {key: value for key, value in values.items() if value is not None}


def _names(session: Session, article_id: int) -> tuple[list[str], set[str]]:
    authors = session.scalars(
        select(Author.name)
        .join(ArticleAuthor, ArticleAuthor.author_id == Author.id)
        .where(ArticleAuthor.article_id == article_id)
        .order_by(ArticleAuthor.position)
    )
    tags = session.scalars(
        select(Tag.name)
        .join(ArticleTag, ArticleTag.tag_id == Tag.id)
        .where(ArticleTag.article_id == article_id)
    )
    return list(authors), set(tags)


def _refresh_terms(session: Session, article_id: int, new: ExtractedArticle) -> bool:
    """Replace the article's authors and tags by ``new``'s when they differ (a page that names
    no author keeps the stored ones, e.g. the feed's)."""
    stored = _names(session, article_id)
    authors = list(dict.fromkeys(a[:255] for a in new.authors)) or stored[0]
    tags = {t[:255] for t in new.tags}
    if stored == (authors, tags):
        return False
    session.execute(delete(ArticleAuthor).where(ArticleAuthor.article_id == article_id))
    session.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
    link_terms(session, article_id, replace(new, authors=tuple(authors)))
    return True


def _reextracted(session: Session, page: StoredPage, new: ExtractedArticle) -> str:
    """Apply one re-extraction: ``revised``, ``changed``, ``unchanged`` or ``duplicate_text``
    (the new text is another article's: nothing changed)."""
    article = session.get_one(Article, page.article_id)
    if article.content_hash != new.content_hash:
        if not revise_article(session, page.article_id, new, page.fetched_at, revised_at=None):
            return Reason.DUPLICATE_TEXT
        session.flush()
        _apply(session, article, new)
        return "revised"
    changed = _apply(session, article, new)
    if (article.minhash or b"") != (new.minhash or b""):
        article.minhash = new.minhash or None
        replace_bands(session, page.article_id, new.bands)
        changed = True
    return "changed" if changed else "unchanged"


def _apply(session: Session, article: Article, new: ExtractedArticle) -> bool:
    changed = False
    for key, value in {**_metadata(new), "word_count": new.word_count}.items():
        if getattr(article, key) != value:
            setattr(article, key, value)
            changed = True
    return _refresh_terms(session, article.id, new) or changed


def apply_reextractions(
    session: Session, done: Sequence[tuple[StoredPage, ExtractedArticle]]
) -> ReextractCounts:
    """Store re-extracted articles in the caller's transaction: text, hash, metadata, authors,
    tags, extractor version, MinHash and bands; an ``article_revisions`` row only where the text
    changed. Idempotent: the same extraction applied again changes nothing."""
    counts = ReextractCounts(examined=len(done))
    for page, new in done:
        outcome = _reextracted(session, page, new)
        if outcome == Reason.DUPLICATE_TEXT:
            counts.fail(outcome)
        elif outcome == "unchanged":
            counts.unchanged += 1
        else:
            counts.changed += 1
            counts.revised += outcome == "revised"
    return counts


def prune_raw_pages(db_url: str, before: datetime, dry_run: bool = False) -> int:
    """Delete kept pages fetched before ``before`` (in short chunked transactions); the number
    deleted (or, with ``dry_run``, that would be)."""
    old = RawPageRow.fetched_at < before
    if dry_run:
        with reading(db_url) as connection:
            count = connection.execute(select(func.count()).where(old)).scalar_one()
            return int(count)
    total = 0
    while True:
        # correlate(None): the subquery reads the table itself, not the DELETE's row.
        ids = (
            select(RawPageRow.id)
            .where(old)
            .order_by(RawPageRow.id)
            .limit(PRUNE_CHUNK)
            .correlate(None)
        )
        with transaction(db_url) as session:
            result = session.execute(delete(RawPageRow).where(RawPageRow.id.in_(ids)))
            deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += deleted
        if deleted < PRUNE_CHUNK:
            return total
