"""Per-source options (kinds, URL and title filters, max_age_days, proxy validation, language,
extraction switches, headers), the feed
fallback of title/date/authors, and the ``feed_items`` upsert on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from sqlalchemy import select

from storage import articles, feeds, runs
from storage.engine import transaction
from storage.models import FeedItemRow
from tasks.discover.discover import read_feeds
from tasks.discover.fallbacks import with_feed_fallbacks
from tasks.extract.extract import PageInput, extract_page
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tasks.records import ExtractedArticle, ExtractOptions, FeedItem, FetchOutcome
from tasks.sources import SourceConfig, SourcesError, parse_sources
from tests.loopback import LoopbackServer

BASE = {"name": "opts", "interval": 600}
WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def entry(**fields: Any) -> dict[str, Any]:
    return {**BASE, "feeds": ["https://news.example.test/rss"], **fields}


def test_source_config_documents_map_each_list_to_its_kind() -> None:
    source = SourceConfig.model_validate(
        entry(
            kind="feed",
            sitemaps=["https://news.example.test/sitemap_index.xml"],
            urls=["file:lists/today.txt"],
        )
    )

    assert source.documents == {
        "https://news.example.test/rss": "feed",
        "https://news.example.test/sitemap_index.xml": "sitemap",
        "file:lists/today.txt": "urls",
    }


def test_source_config_sitemaps_alone_are_enough() -> None:
    source = SourceConfig.model_validate(
        {**BASE, "sitemaps": ["https://news.example.test/news-sitemap.xml"]}
    )

    assert source.feeds == [] and source.documents


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        pytest.param({"feeds": []}, "feeds", "at least one document", id="no-documents"),
        pytest.param({"kind": "json"}, "kind", "'auto', 'feed', 'sitemap' or 'urls'", id="kind"),
        pytest.param({"include": ["(unclosed"]}, "include", "regular expression", id="include"),
        pytest.param({"exclude": ["*video"]}, "exclude", "regular expression", id="exclude"),
        pytest.param({"language": "English"}, "language", "pattern", id="language"),
        pytest.param({"extract": {"precision": True}}, "extract.precision", "Extra", id="extract"),
        pytest.param({"headers": {"Bad Name": "x"}}, "headers", "header name", id="header-name"),
        pytest.param({"headers": {"X-A": "a\r\nb"}}, "headers", "one line", id="header-value"),
        pytest.param({"sitemaps": ["ftp://x.test/s"]}, "sitemaps", "http(s) URL", id="sitemap"),
        pytest.param({"include_title": ["(x"]}, "include_title", "regular expr", id="title-in"),
        pytest.param({"exclude_title": ["+x"]}, "exclude_title", "regular expr", id="title-ex"),
        pytest.param({"max_age_days": 0}, "max_age_days", "greater than or equal to 1", id="age"),
        pytest.param({"max_age_days": "week"}, "max_age_days", "valid integer", id="age-text"),
        pytest.param({"proxy": "socks5://p.test:1080"}, "proxy", "http(s) proxy", id="socks"),
        pytest.param({"proxy": "p.test:3128"}, "proxy", "http(s) proxy", id="no-scheme"),
        pytest.param({"proxy": "http://p.test:3128/x"}, "proxy", "no path", id="proxy-path"),
        pytest.param({"proxy": "http://p.test:99999"}, "proxy", "not a proxy URL", id="port"),
        pytest.param({"proxy": "http://u:s3cret@p.test/x"}, "proxy", "u:***@p", id="no-password"),
    ],
)
def test_parse_sources_invalid_option_names_the_field(
    fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(SourcesError) as excinfo:
        parse_sources({"sources": [entry(**fields)]})

    assert f"entry 1 ('opts'), field {field}:" in str(excinfo.value)
    assert message in str(excinfo.value)
    assert "s3cret" not in str(excinfo.value)


def test_source_config_wants_applies_include_then_exclude() -> None:
    source = SourceConfig.model_validate(entry(include=[r"/news/"], exclude=[r"/live-"]))

    assert source.wants("https://x.test/news/a")
    assert not source.wants("https://x.test/sport/a")
    assert not source.wants("https://x.test/news/live-blog")


def _item(url: str = "https://x.test/news/a", **fields: Any) -> FeedItem:
    return FeedItem(url, url, **fields)


def test_source_config_skip_reason_names_the_filter_that_drops_an_item() -> None:
    source = SourceConfig.model_validate(
        entry(exclude=["/live-"], include_title=["(?i)council"], max_age_days=7)
    )

    assert source.skip_reason(_item(title="Council meets", published_at=WHEN), WHEN) is None
    assert source.skip_reason(_item("https://x.test/live-1", title="Council"), WHEN) == (
        "url_filtered"
    )
    assert source.skip_reason(_item(title="Football"), WHEN) == "title_filtered"
    assert source.skip_reason(_item(), WHEN) == "title_filtered"  # untitled: no include match
    old = _item(title="Council", published_at=WHEN - timedelta(days=8))
    assert source.skip_reason(old, WHEN) == "too_old"


def test_source_config_age_falls_back_to_updated_and_undated_is_kept() -> None:
    source = SourceConfig.model_validate(entry(max_age_days=1))

    updated = _item(updated_at=WHEN - timedelta(days=2))
    assert source.skip_reason(updated, WHEN) == "too_old"
    assert source.skip_reason(_item(), WHEN) is None


def test_source_config_exclude_title_keeps_untitled_items() -> None:
    source = SourceConfig.model_validate(entry(exclude_title=["^Sponsored"]))

    assert source.skip_reason(_item(title="Sponsored: a car"), WHEN) == "title_filtered"
    assert source.skip_reason(_item(), WHEN) is None


def test_source_config_screen_is_none_without_filters() -> None:
    assert SourceConfig.model_validate(entry()).screen(WHEN) is None
    assert SourceConfig.model_validate(entry(max_age_days=3)).screen(WHEN) is not None


def test_read_feeds_counts_filtered_items_in_the_document_detail() -> None:
    source = SourceConfig.model_validate(entry(max_age_days=30, exclude_title=["^Ad:"]))
    links = [f"https://x.test/{n}" for n in range(4)]
    dates = [WHEN, WHEN - timedelta(days=40), WHEN - timedelta(days=90), WHEN]
    titles = ["One", "Two", "Three", "Ad: four"]
    entries = "".join(
        f"<item><title>{t}</title><link>{u}</link><pubDate>{format_datetime(d)}</pubDate></item>"
        for u, d, t in zip(links, dates, titles, strict=True)
    )
    body = f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()
    outcome = FetchOutcome("https://x.test/rss", "feed", "ok", body=body)

    read = read_feeds([outcome], 10, screen=source.screen(WHEN))

    assert [item.url for item in read.items] == links[:1]
    assert read.skipped == {"too_old": 2, "title_filtered": 1}
    assert read.outcomes[0].detail == "filtered out 3 item(s) (title_filtered: 1, too_old: 2)"


def test_backfill_source_ignores_max_age_days(tmp_path: Any) -> None:
    import yaml

    from flows.backfill import backfill_source
    from flows.settings import Settings

    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [entry(max_age_days=2, include=["/news/"])]}))

    source = backfill_source(Settings(), "opts", str(path), "https://news.example.test/s.xml")

    assert source.max_age_days is None and source.include == ["/news/"]


def test_settings_source_fetch_config_carries_the_proxy() -> None:
    from flows.settings import Settings

    source = SourceConfig.model_validate(entry(proxy="http://proxy.internal:3128", delay=3))

    config = Settings().source_fetch_config(source)

    assert (config.proxy, config.delay) == ("http://proxy.internal:3128", 3)


def test_source_config_extract_options_reach_the_worker_input() -> None:
    source = SourceConfig.model_validate(entry(extract={"include_tables": False}))

    assert source.extract.options() == ExtractOptions(include_tables=False)


def test_extract_page_include_tables_option_drops_table_text() -> None:
    words = " ".join(f"prose{i}" for i in range(60))
    html = (
        f"<html><body><article><p>{words}</p><p>{words}</p><table><tr><td>cellvalue one</td>"
        "<td>cellvalue two</td></tr></table></article></body></html>"
    ).encode()
    url = "https://x.test/a"

    kept = extract_page(PageInput(url, html, options=ExtractOptions(include_tables=True)))
    dropped = extract_page(PageInput(url, html, options=ExtractOptions(include_tables=False)))

    assert kept.article is not None and "cellvalue" in kept.article.text
    assert dropped.article is not None and "cellvalue" not in dropped.article.text


def test_fetch_pages_sends_the_source_headers(server: LoopbackServer) -> None:
    seen: list[str | None] = []

    def handler(request: Any) -> None:
        seen.append(request.headers.get("X-Api-Key"))
        request.send_response(404)
        request.send_header("Content-Length", "0")
        request.end_headers()

    server.routes["/feed"] = handler
    source = SourceConfig.model_validate(entry(headers={"X-Api-Key": "k1"}))
    config = FetchConfig(user_agent="t", delay=0, retries=0, network_policy=NetworkPolicy(True))
    url = server.url("/feed")

    fetch_pages([url], config, kind="feed", headers={url: dict(source.headers)})

    assert seen == ["k1"]


def _article(**fields: Any) -> ExtractedArticle:
    return ExtractedArticle(
        url="https://x.test/a",
        canonical_url="https://x.test/a",
        text="t",
        content_hash="h",
        **fields,
    )


ITEM = FeedItem(
    "https://x.test/a", "https://x.test/a", title="Feed", published_at=WHEN, author="Ann & Bo"
)


def test_with_feed_fallbacks_fills_what_the_page_lacks() -> None:
    article = with_feed_fallbacks(_article(), ITEM, language="fr")

    assert (article.title, article.title_source) == ("Feed", "feed")
    assert (article.published_at, article.date_source) == (WHEN, "feed")
    assert (article.authors, article.authors_source) == (("Ann", "Bo"), "feed")
    assert article.language == "fr"


def test_with_feed_fallbacks_keeps_what_the_page_has() -> None:
    page = _article(
        title="Page",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
        date_source="url",
        authors=("Cy",),
        language="en",
    )

    article = with_feed_fallbacks(page, ITEM, language="fr")

    assert (article.title_source, article.date_source, article.authors_source) == (
        "page",
        "url",
        "page",
    )
    assert (article.title, article.authors, article.language) == ("Page", ("Cy",), "en")


def test_with_feed_fallbacks_nothing_anywhere_leaves_sources_null() -> None:
    article = with_feed_fallbacks(_article(), FeedItem("https://x.test/a", "https://x.test/a"))

    assert (article.title_source, article.date_source, article.authors_source) == (None,) * 3


def test_record_feed_items_upserts_one_row_per_canonical_url(migrated_db: str) -> None:
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "opts", None)
    first = FeedItem("https://x.test/a?utm_source=f", "https://x.test/a", title="One", guid="g1")
    later = FeedItem("https://x.test/a", "https://x.test/a", title="One (updated)", guid="g1")

    with transaction(migrated_db) as session:
        feeds.record_feed_items(session, run_id, [first])
    with transaction(migrated_db) as session:
        seen = session.scalars(select(FeedItemRow)).one().first_seen_at
    with transaction(migrated_db) as session:
        feeds.record_feed_items(session, run_id, [later])

    with transaction(migrated_db) as session:
        row = session.scalars(select(FeedItemRow)).one()
        assert (row.title, row.url, row.guid) == ("One (updated)", "https://x.test/a", "g1")
        assert row.first_seen_at == seen and row.last_seen_at >= seen


def test_record_feed_items_links_a_url_already_stored(migrated_db: str) -> None:
    from tests.test_storage import article, page

    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "opts", None)
    with transaction(migrated_db) as session:
        articles.store_pages(
            session, run_id, [page("https://x.test/b", article("https://x.test/b"))]
        )

    with transaction(migrated_db) as session:
        feeds.record_feed_items(session, run_id, [FeedItem("https://x.test/b", "https://x.test/b")])

    with transaction(migrated_db) as session:
        assert session.scalars(select(FeedItemRow.article_id)).one() is not None


def test_readme_source_example_is_valid() -> None:
    import re
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(- name: example-news.*?)```", readme, re.S)

    assert block is not None
    (source,) = parse_sources({"sources": yaml.safe_load(block.group(1))})
    assert set(source.documents.values()) == {"sitemap", "urls"}
