"""The article's title, date and authors fall back to what its feed item said where extraction
found none; each records where it came from (``page``, ``url``, ``feed``)."""

from __future__ import annotations

from dataclasses import replace

from tasks.extract.metadata import split_authors
from tasks.records import ExtractedArticle, FeedItem, PageResult


def with_feed_fallbacks(
    article: ExtractedArticle, item: FeedItem, language: str | None = None
) -> ExtractedArticle:
    """``article`` completed from ``item`` (and the source's expected ``language``), with the
    ``*_source`` fields set."""
    title, title_source = article.title, article.title_source or "page"
    if not title:
        title, title_source = item.title, "feed"
    date, date_source = article.published_at, article.date_source or "page"
    if date is None:
        date, date_source = item.published_at, "feed"
    authors, authors_source = article.authors, article.authors_source or "page"
    if not authors:
        authors, authors_source = split_authors(item.author, article.site_name), "feed"
    return replace(
        article,
        title=title,
        title_source=title_source if title else None,
        published_at=date,
        date_source=date_source if date else None,
        authors=authors,
        authors_source=authors_source if authors else None,
        language=article.language or language,
    )


def complete_pages(pages: list[PageResult], language: str | None = None) -> list[PageResult]:
    """:func:`with_feed_fallbacks` applied to every extracted page of a batch."""
    return [
        replace(page, article=with_feed_fallbacks(page.article, page.item, language))
        if page.article is not None
        else page
        for page in pages
    ]
