"""Finding a site's feeds and sitemaps (``newsflow sources discover``): the home page's
``<link rel="alternate">`` feeds, else common feed paths; sitemaps from robots.txt and common
paths. Every candidate is fetched through the fetch layer and parsed before it is offered."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urljoin

import yaml

from tasks.dedup.urls import canonicalize_url, site_domain
from tasks.discover.feeds import FeedParseError, parse_feed
from tasks.discover.sitemaps import MAX_INFLATED, SitemapError, gunzip, parse_sitemap
from tasks.fetch.encoding import decode_html
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry, host_key
from tasks.fetch.polite import fetch_pages
from tasks.fetch.robots import interpret, robots_url
from tasks.records import FetchOutcome, Reason

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
FEED_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feeds/posts/default",
)
SITEMAP_PATHS = ("/sitemap.xml", "/news-sitemap.xml")
DEFAULT_INTERVAL = 3600  # seconds, the schedule a new entry gets
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feed or sitemap URL we tried: where it came from, and what fetching it gave."""

    url: str
    kind: str  # feed | sitemap
    via: str  # link | path | robots
    reason: str  # the fetch's reason, feed_unparseable, or not_a_sitemap
    entries: int = 0  # feed items or sitemap URLs
    final_url: str | None = None

    @property
    def usable(self) -> bool:
        return self.reason == Reason.OK and self.entries > 0


@dataclass(slots=True)
class SiteReport:
    url: str
    home_reason: str
    candidates: list[Candidate] = field(default_factory=list)

    def usable(self, kind: str) -> list[Candidate]:
        return [c for c in self.candidates if c.kind == kind and c.usable]


class _FeedLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").split(";")[0].strip().lower()
        if tag == "link" and "alternate" in rels and kind in FEED_TYPES and values.get("href"):
            self.hrefs.append(values["href"].strip())


def feed_links(html: bytes, base: str, content_type: str | None = None) -> list[str]:
    """The RSS/Atom feeds a page announces with ``<link rel="alternate" type=...>``, absolute."""
    parser = _FeedLinks()
    parser.feed(decode_html(html, content_type))
    parser.close()
    return [urljoin(base, href) for href in parser.hrefs]


def sitemap_entries(body: bytes, url: str = "", cap: int = MAX_INFLATED) -> int:
    """How many URLs (``urlset``) or child sitemaps (``sitemapindex``) a sitemap lists, read by
    the pipeline's own parser (:func:`tasks.discover.sitemaps.parse_sitemap`); a gzip file is
    inflated up to ``cap`` bytes. :class:`SitemapError` if it is not one."""
    sitemap = parse_sitemap(gunzip(body, cap), url)
    return len(sitemap.items) + len(sitemap.children)


def _judge(outcome: FetchOutcome, kind: str, via: str) -> Candidate:
    final = outcome.final_url or outcome.url
    if not outcome.ok or outcome.body is None:
        return Candidate(outcome.url, kind, via, outcome.reason, final_url=final)
    try:
        if kind == "feed":
            entries = len(parse_feed(outcome.body, final, outcome.content_type).items)
        else:
            entries = sitemap_entries(outcome.body, final)
    except FeedParseError as exc:
        return Candidate(outcome.url, kind, via, exc.reason, final_url=final)
    except SitemapError:
        return Candidate(outcome.url, kind, via, "not_a_sitemap", final_url=final)
    return Candidate(outcome.url, kind, via, Reason.OK, entries, final)


def _check(
    urls: list[tuple[str, str]], kind: str, config: FetchConfig, hosts: HostRegistry
) -> list[Candidate]:
    """Fetch and judge ``(url, via)`` pairs; a URL (or the final URL of a redirect) is judged
    once."""
    seen: set[str] = set()
    todo = []
    for url, via in urls:
        key = canonicalize_url(url)
        if key is not None and key not in seen:
            seen.add(key)
            todo.append((url, via))
    fetched = fetch_pages([u for u, _ in todo], config, kind="feed", hosts=hosts)
    found: list[Candidate] = []
    finals: set[str] = set()
    for (_, via), outcome in zip(todo, fetched, strict=True):
        candidate = _judge(outcome, kind, via)
        final = canonicalize_url(candidate.final_url or candidate.url) or candidate.url
        if candidate.usable and final in finals:
            continue
        finals.add(final)
        found.append(candidate)
    return found


def _robots_sitemaps(site: str, config: FetchConfig, hosts: HostRegistry) -> list[str]:
    state = hosts.host(host_key(site))
    robots = state.robots
    if robots is None:  # not read for the page fetch (robots off, or the page was redirected)
        (fetched,) = fetch_pages([robots_url(site)], config, kind="robots", hosts=hosts)
        robots = interpret(fetched)
    if robots.parser is None:
        return []
    return [urljoin(site, url) for url in robots.parser.sitemaps]


def discover_site(url: str, config: FetchConfig) -> SiteReport:
    """Fetch ``url`` (a site's home page) and find and validate its feeds and sitemaps."""
    hosts = HostRegistry(config.host_max_failures)
    (home,) = fetch_pages([url], config, kind="page", hosts=hosts)
    report = SiteReport(url, home.reason)
    site = home.final_url or url
    links: list[str] = []
    if home.ok and home.body is not None:
        links = feed_links(home.body, site, home.content_type)
    feeds = _check([(link, "link") for link in links], "feed", config, hosts)
    if not any(c.usable for c in feeds):  # guess, but not where robots.txt says no
        robots = hosts.host(host_key(site)).robots
        paths = [(urljoin(site, path), "path") for path in FEED_PATHS]
        paths = [(u, via) for u, via in paths if robots is None or robots.allows(u)]
        feeds += _check(paths, "feed", config, hosts)
    report.candidates.extend(feeds)
    sitemaps = [(u, "robots") for u in _robots_sitemaps(site, config, hosts)]
    sitemaps += [(urljoin(site, path), "path") for path in SITEMAP_PATHS]
    report.candidates.extend(_check(sitemaps, "sitemap", config, hosts))
    return report


def slug_for(url: str) -> str:
    """A source name from a site's domain: ``https://www.bbc.co.uk/news`` gives ``bbc``."""
    domain = site_domain(url)
    labels = domain.split(".")
    if len(labels) > 1 and not domain.replace(".", "").isdigit():
        labels = labels[:1] if len(labels) == 2 else labels[:-2]
    slug = _SLUG_JUNK.sub("-", "-".join(labels).lower()).strip("-")
    return slug[:64] or "source"


def source_entry(report: SiteReport, name: str, interval: int = DEFAULT_INTERVAL) -> str:
    """A ``sources.yaml`` entry (indented to paste under ``sources:``) for the usable feeds; a
    site without a usable feed gets its sitemaps instead. Sitemaps beside feeds are listed as
    comments (a sitemap often lists the whole archive: add it under ``sitemaps:`` on purpose)."""
    feeds = [c.final_url or c.url for c in report.usable("feed")]
    sitemaps = [c.final_url or c.url for c in report.usable("sitemap")]
    entry: dict[str, object] = {"name": name}
    entry |= {"feeds": feeds} if feeds or not sitemaps else {"sitemaps": sitemaps}
    entry["interval"] = interval
    body = yaml.safe_dump([entry], sort_keys=False, default_flow_style=False, allow_unicode=True)
    day = datetime.now(UTC).date().isoformat()
    lines = [f"# found by `newsflow sources discover {report.url}` on {day}"]
    lines += body.splitlines()
    for sitemap in report.usable("sitemap") if feeds else []:
        lines.append(f"# sitemap ({sitemap.entries} entries): {sitemap.final_url or sitemap.url}")
    return "\n".join("  " + line for line in lines) + "\n"
