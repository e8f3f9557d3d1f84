"""Sitemaps: ``<urlset>`` (plain and Google News) and ``<sitemapindex>`` documents -> feed items
and child sitemap URLs. Parsed with lxml without entity expansion, DTD loading or network access,
in recovery mode (a raw ``&`` costs one entry, not the document); bounded in size and entries."""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from tasks.dedup.urls import SkippedEntry, canonicalize_url, resolve_link, skipped_note
from tasks.discover.xmlsafe import without_entity_declarations
from tasks.records import FeedItem, Reason

MAX_ENTRIES = 50_000  # per document (the sitemaps.org limit)
MAX_CHILDREN = 1_000  # child sitemaps read from one index
MAX_INFLATED = 20_000_000  # bytes a gzip'd sitemap may inflate to (NEWSFLOW_MAX_FEED_BYTES)
MAX_TITLE = 500
_GZIP_MAGIC = b"\x1f\x8b"
_SPACE = re.compile(r"\s+")
_BARE_AMP = re.compile(rb"&(?!#?[A-Za-z0-9]+;)")


class SitemapError(Exception):
    """Not a sitemap we can read; ``reason`` is a machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.args[1])


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap: its page items (urlset) or child sitemap URLs (index)."""

    kind: str  # "urlset" | "sitemapindex"
    items: list[FeedItem] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    warning: str | None = None


def gunzip(body: bytes, limit: int = MAX_INFLATED) -> bytes:
    """The body inflated if it is gzip data (a ``.xml.gz`` served as a file), else unchanged;
    a bomb that inflates beyond ``limit`` raises :class:`SitemapError`."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
                if out.tell() > limit:
                    raise SitemapError(Reason.DECOMPRESSION_LIMIT, f"inflates beyond {limit} bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise SitemapError(Reason.DECODING_ERROR, f"bad gzip data: {exc}") from None
    return out.getvalue()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )


def _local(element: Any) -> str:
    tag = element.tag
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _text(element: Any) -> str | None:
    text = _SPACE.sub(" ", "".join(element.itertext())).strip()
    return text or None


def parse_date(value: str | None) -> datetime | None:
    """A W3C datetime (``2025-09-02``, ``...T10:00:00.000Z``, ``...+02:00``) as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _fields(entry: Any) -> dict[str, str]:
    """An entry's fields by local name, news:* flattened (first occurrence wins)."""
    found: dict[str, str] = {}
    for element in entry.iter(etree.Element):
        name = _local(element)
        if element is entry or name in found or len(element):
            continue
        text = _text(element)
        if text:
            found[name] = text
    return found


def _item(entry: Any, base: str) -> FeedItem | None:
    fields = _fields(entry)
    loc = fields.get("loc") or (entry.text or "").strip()  # a bare URL: take it
    absolute = resolve_link(base, loc) if loc else None  # SkippedEntry: broken or too long
    canonical = canonicalize_url(absolute) if absolute else None
    if absolute is None or canonical is None:
        return None
    lastmod = parse_date(fields.get("lastmod"))
    keywords = tuple(k.strip() for k in fields.get("keywords", "").split(",") if k.strip())
    return FeedItem(
        url=absolute,
        canonical_url=canonical,
        title=(fields.get("title") or "")[:MAX_TITLE] or None,
        published_at=parse_date(fields.get("publication_date")) or lastmod,
        updated_at=lastmod,
        categories=keywords,
        feed_url=base,
    )


def _parse_xml(data: bytes) -> tuple[Any, str | None]:
    """The document's root element (``None`` if nothing readable) and the first error, if any."""
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return None, str(exc)[:300]
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    return root, f"XMLSyntaxError: {errors[0].message} (line {errors[0].line})" if errors else None


def parse_sitemap(
    body: bytes, url: str, limit: int = MAX_ENTRIES, max_bytes: int = MAX_INFLATED
) -> Sitemap:
    """Parse sitemap bytes (gzip'd or not, inflating to at most ``max_bytes``) fetched from
    ``url``; at most ``limit`` entries."""
    data = without_entity_declarations(gunzip(body, max_bytes)).lstrip()
    root, warning = _parse_xml(data)
    if warning and b"&" in data:  # the usual breakage: a raw "&" (recovery would drop entries)
        repaired = _parse_xml(_BARE_AMP.sub(b"&amp;", data))[0]
        root = repaired if repaired is not None else root
    if root is None or _local(root) not in ("urlset", "sitemapindex"):
        raise SitemapError(
            Reason.SITEMAP_UNPARSEABLE, warning or "no <urlset> or <sitemapindex> root"
        )
    kind = _local(root)
    cap = limit if kind == "urlset" else MAX_CHILDREN
    entry_tag = "url" if kind == "urlset" else "sitemap"
    found: dict[str, FeedItem] = {}
    skips: Counter[str] = Counter()
    locs: set[str] = set()  # a repeated entry costs a set lookup, not a parse of its URL
    for entry in root:
        loc = entry.findtext("{*}loc") if _local(entry) == entry_tag else None
        if loc is not None and loc in locs:
            continue
        locs.add(loc or "")
        try:
            item = _item(entry, url) if _local(entry) == entry_tag else None
        except SkippedEntry as exc:
            skips[exc.reason] += 1
            continue
        if item is None or item.canonical_url in found:
            continue
        if len(found) >= cap:
            warning = f"more than {cap} entries; the rest skipped"
            break
        found[item.canonical_url] = item
    warning = "; ".join(w for w in (warning, skipped_note(skips)) if w) or None
    if kind == "urlset":
        return Sitemap(kind, items=list(found.values()), warning=warning)
    return Sitemap(kind, children=[i.url for i in found.values()], warning=warning)
