"""What ``newsflow sources try`` warns about (tasks/authoring/probe.py), on records built here."""

from __future__ import annotations

from datetime import UTC, datetime

from tasks.authoring.probe import FeedCheck, Finding, article_findings, check_page, feed_findings
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome

FEED = "https://news.example.com/rss.xml"


def item(url: str) -> FeedItem:
    return FeedItem(url=url, canonical_url=url)


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_feed_findings_warn_when_every_item_is_off_the_feeds_domain() -> None:
    check = FeedCheck(FEED, "ok", None, 2)
    items = [item("https://other.org/a"), item("https://www.other.org/b")]

    assert codes(feed_findings(check, items)) == ["off_domain"]


def test_feed_findings_accept_items_on_a_sibling_host() -> None:
    check = FeedCheck(FEED, "ok", None, 2)
    items = [item("https://other.org/a"), item("https://www.example.com/b")]

    assert feed_findings(check, items) == []


def test_feed_findings_warn_about_a_feed_without_items() -> None:
    assert codes(feed_findings(FeedCheck(FEED, "ok", None, 0), [])) == ["no_items"]


def test_feed_findings_name_the_reason_of_an_unreachable_feed() -> None:
    (finding,) = feed_findings(FeedCheck(FEED, "timeout", "read timeout", 0), [])

    assert finding.code == "feed_unreachable"
    assert finding.text == f"{FEED}: timeout (read timeout)"


def test_feed_findings_say_when_a_document_is_not_a_feed() -> None:
    findings = feed_findings(FeedCheck(FEED, "feed_unparseable", "not RSS", 0), [])

    assert codes(findings) == ["not_a_feed"]


def test_article_findings_list_missing_title_date_and_authors() -> None:
    bare = ExtractedArticle(
        url="https://x.example/a", canonical_url="https://x.example/a", text="t", content_hash="h"
    )
    full = ExtractedArticle(
        url="https://x.example/b",
        canonical_url="https://x.example/b",
        text="t",
        content_hash="h",
        title="T",
        authors=("A",),
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
    )

    assert codes(article_findings(bare)) == ["no_title", "no_date", "no_authors"]
    assert article_findings(full) == []


def test_check_page_reports_a_failed_fetch_with_its_reason() -> None:
    fetched = FetchOutcome(url="https://x.example/a", kind="page", reason="robots_disallowed")

    page = check_page(item("https://x.example/a"), fetched)

    assert page.reason == "robots_disallowed" and page.article is None
    assert codes(list(page.findings)) == ["page_unreachable"]
