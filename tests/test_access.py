"""Access flags: JSON-LD isAccessibleForFree and the paywall-teaser flag, from the page through
the record into storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import lxml.html
import pytest
from sqlalchemy import select

from storage import articles, runs
from storage.engine import transaction
from storage.models import Article
from tasks.extract.access import paywall_teaser
from tasks.extract.extract import PageInput, extract_page
from tasks.extract.jsonld import read_structured
from tests.test_storage import article, page

PARAGRAPHS = " ".join(
    f"<p>Paragraph {i} of the council report says the budget for the new library grew again "
    f"this year, and the mayor defended the cost at a public meeting on Tuesday evening.</p>"
    for i in range(6)
)


def _html(ld: object, body: str = PARAGRAPHS) -> str:
    script = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    return f"<html><head><title>Budget</title>{script}</head><body><article>{body}</article>"


def _tree(ld: object) -> object:
    return lxml.html.fromstring(_html(ld))


@pytest.mark.parametrize(("value", "free"), [(False, False), ("False", False), ("true", True)])
def test_read_structured_reads_is_accessible_for_free(value: object, free: bool) -> None:
    ld = {"@type": "NewsArticle", "headline": "H", "isAccessibleForFree": value}
    assert read_structured(_tree(ld)).accessible_for_free is free


def test_read_structured_finds_the_article_in_a_graph_and_skips_broken_scripts() -> None:
    graph = {"@graph": [{"@type": "WebSite"}, {"@type": "ReportageNewsArticle", "headline": "H"}]}
    html = '<script type="application/ld+json">{broken</script>' + _html(graph)
    structured = read_structured(lxml.html.fromstring(html))
    assert (structured.headline, structured.accessible_for_free) == ("H", None)


def test_read_structured_separates_people_from_organizations() -> None:
    authors = [{"@type": "Person", "name": "Jane Doe"}, {"@type": "Organization", "name": "dpa"}]
    structured = read_structured(_tree({"@type": "NewsArticle", "author": authors}))
    assert (structured.people, structured.organizations) == (("Jane Doe",), ("dpa",))


def test_paywall_teaser_flags_a_stub_of_a_page_that_is_not_free() -> None:
    assert paywall_teaser(False, "A teaser.", 60)
    assert not paywall_teaser(False, "The whole story.", 600)
    assert not paywall_teaser(None, "A short story.", 60)


def test_paywall_teaser_flags_a_short_body_with_a_paywall_notice() -> None:
    assert paywall_teaser(None, "Lead.\nYou have 74% of this article left to read.", 200)


def test_extract_page_carries_the_access_flags() -> None:
    ld = {"@type": "NewsArticle", "headline": "Budget", "isAccessibleForFree": False}
    html = _html(ld, PARAGRAPHS.split("</p>", 3)[-1]).encode()  # three paragraphs: a stub
    got = extract_page(PageInput("https://news.example.test/a", html)).article
    assert got is not None
    assert (got.accessible_for_free, got.paywall_teaser) == (False, True)


def test_store_pages_keeps_the_access_flags(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "example", "flow-1")
    url = "https://example.com/paid"
    stored = article(url, accessible_for_free=False, paywall_teaser=True)
    with transaction(migrated_db) as session:
        articles.store_pages(session, run_id, [page(url, stored)])
    with transaction(migrated_db) as session:
        row = session.execute(select(Article.is_accessible_for_free, Article.paywall_teaser)).one()
    assert tuple(row) == (False, True)
