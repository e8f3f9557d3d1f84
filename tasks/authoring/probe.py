"""A dry run of one source (``newsflow sources try``): read its feeds, extract a few items, and
say what a feed author should look at. Uses the pipeline's own fetch, feed and extraction steps;
writes nothing anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.dedup.urls import site_domain
from tasks.discover.fallbacks import with_feed_fallbacks
from tasks.discover.source import fetch_source_documents, read_source
from tasks.extract.extract import PageInput, extract_page
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.polite import fetch_pages
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, Reason
from tasks.sources import SourceConfig


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a feed author should look at: a short code and what it is about."""

    code: str  # feed_unreachable | not_a_feed | no_items | off_domain | page_unreachable |
    # empty_body | extract_error | no_title | no_date | no_authors
    text: str


@dataclass(frozen=True, slots=True)
class FeedCheck:
    """One feed URL: how fetching and parsing it went, and how many items it gave."""

    url: str
    reason: str
    detail: str | None
    items: int


@dataclass(frozen=True, slots=True)
class PageCheck:
    item: FeedItem
    reason: str  # the fetch's reason, or the extraction's when the page was fetched
    article: ExtractedArticle | None
    findings: tuple[Finding, ...]


@dataclass(slots=True)
class Probe:
    source: SourceConfig
    feeds: list[FeedCheck] = field(default_factory=list)
    items: list[FeedItem] = field(default_factory=list)
    pages: list[PageCheck] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """A feed could be read and at least one sampled item extracted."""
        readable = any(f.reason in (Reason.OK, Reason.NOT_MODIFIED) for f in self.feeds)
        return readable and any(p.article is not None for p in self.pages)


def feed_findings(check: FeedCheck, items: list[FeedItem]) -> list[Finding]:
    """What is wrong with one feed: unreachable, not a feed, empty, or linking only elsewhere."""
    if check.reason in (Reason.FEED_UNPARSEABLE, Reason.SITEMAP_UNPARSEABLE):
        return [
            Finding(
                "not_a_feed", f"{check.url}: {check.detail or 'not a feed, sitemap or URL list'}"
            )
        ]
    if check.reason != Reason.OK:
        why = f" ({check.detail})" if check.detail else ""
        return [Finding("feed_unreachable", f"{check.url}: {check.reason}{why}")]
    if not items:
        return [Finding("no_items", f"{check.url}: the feed lists no items with a link")]
    home = site_domain(check.url)
    if all(site_domain(item.url) != home for item in items):
        return [Finding("off_domain", f"{check.url}: every item links away from {home}")]
    return []


def article_findings(article: ExtractedArticle) -> list[Finding]:
    """Metadata the page does not give: missing altogether, or only from the feed (which the
    ingest flow falls back to)."""
    checks = [
        ("no_title", article.title, article.title_source, "no title"),
        ("no_date", article.published_at, article.date_source, "no publication date"),
        ("no_authors", article.authors, article.authors_source, "no authors"),
    ]
    findings = []
    for code, value, source, text in checks:
        if not value:
            findings.append(Finding(code, f"{article.url}: {text}"))
        elif source == "feed":
            findings.append(Finding(code, f"{article.url}: {text} on the page (the feed's used)"))
    return findings


def check_page(
    item: FeedItem, fetched: FetchOutcome, source: SourceConfig | None = None
) -> PageCheck:
    """Extract one fetched page as the ingest flow would (the source's extraction options, the
    feed's fallbacks for title, date and authors) and say what is missing."""
    if not fetched.ok or fetched.body is None:
        why = f" ({fetched.detail})" if fetched.detail else ""
        finding = Finding("page_unreachable", f"{item.url}: {fetched.reason}{why}")
        return PageCheck(item, fetched.reason, None, (finding,))
    options = source.extract.options() if source is not None else None
    url = fetched.final_url or fetched.url
    result = extract_page(PageInput(url, fetched.body, fetched.content_type, options=options))
    if result.article is None:
        code = "empty_body" if result.reason == Reason.NO_EXTRACTABLE_TEXT else Reason.EXTRACT_ERROR
        finding = Finding(code, f"{item.url}: {result.reason} ({result.detail})")
        return PageCheck(item, result.reason, None, (finding,))
    article = with_feed_fallbacks(result.article, item, source.language if source else None)
    return PageCheck(item, Reason.OK, article, tuple(article_findings(article)))


def probe_source(source: SourceConfig, config: FetchConfig, limit: int, sample: int = 3) -> Probe:
    """Fetch the source's feeds, read up to ``limit`` items, extract the first ``sample``."""
    probe = Probe(source)
    hosts = HostRegistry(config.host_max_failures)
    fetched = fetch_source_documents(source, config, hosts)
    for outcome in fetched:
        # per document: its own findings
        alone = read_source(source, [outcome], limit, config, hosts)
        first = alone.outcomes[0]
        check = FeedCheck(outcome.url, first.reason, first.detail, len(alone.items))
        probe.feeds.append(check)
        probe.findings.extend(feed_findings(check, alone.items))
    probe.items = read_source(source, fetched, limit, config, hosts).items
    chosen = probe.items[:sample]
    headers = {item.url: dict(source.headers) for item in chosen} if source.headers else None
    pages = fetch_pages([item.url for item in chosen], config, hosts=hosts, headers=headers)
    probe.pages = [check_page(item, page, source) for item, page in zip(chosen, pages, strict=True)]
    for page in probe.pages:
        probe.findings.extend(page.findings)
    return probe
