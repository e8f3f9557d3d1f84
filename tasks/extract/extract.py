"""Extraction: page bytes -> a normalized, hashed article (trafilatura), one page or a batch."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tasks.dedup import boilerplate
from tasks.dedup.dedup import accept_page_canonical, band_hashes, signature
from tasks.dedup.urls import canonicalize_url
from tasks.dedup.words import comparable_words
from tasks.extract import keepchars
from tasks.extract.access import paywall_teaser
from tasks.extract.body import body_text, needs_recheck, second_opinion
from tasks.extract.clean import Skip, sanitize
from tasks.extract.jsonld import StructuredData, read_structured
from tasks.extract.metadata import dates, detect_language
from tasks.extract.pagemeta import choose_authors, page_title, read_head
from tasks.extract.rawhtml import compress_page
from tasks.fetch.encoding import decode_html
from tasks.records import (
    ExtractedArticle,
    ExtractedPage,
    ExtractionResult,
    ExtractOptions,
    FetchedPage,
    FetchOutcome,
    PageResult,
    Reason,
)

MIN_WORDS = 25
MIN_CHARS = 200  # faults.md H7: shorter bodies are stubs (cookie walls, teasers), not articles
CJK_CHARS = 500  # ... and so is one under MIN_WORDS words, unless it is this long (CJK scripts
# have few \w+ words: a run of ideographs between punctuation is one)
WALL_WORDS = 120  # a body this short that talks like a consent or paywall notice is one
_WORD = re.compile(r"\w+")
_WALL = re.compile(
    r"\b(?:accept (?:all )?cookies|cookie (?:settings|consent|policy)"
    r"|subscribe to (?:continue|read)|already a subscriber|sign in to continue"
    r"|to continue reading|réservée aux abonnés"
    r"|abonnieren sie|jetzt abonnieren|weiterlesen mit|zustimmen und weiter)\b",
    re.IGNORECASE,
)
_HTML_LANG = re.compile(
    rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?)"
)
_OG_LOCALE = re.compile(
    rb"<meta\b[^>]*?property\s*=\s*[\"']og:locale[\"'][^>]*?content\s*=\s*[\"']([A-Za-z]{2,3})"
)


@dataclass(frozen=True, slots=True)
class PageInput:
    """What a worker needs to extract one page (plain, picklable)."""

    url: str  # the URL we fetched (after redirects)
    html: bytes
    content_type: str | None = None  # the HTTP header, for decoding
    options: ExtractOptions | None = None  # the source's switches (default: ExtractOptions())
    boilerplate: frozenset[str] = frozenset()  # line keys the source's pages repeat: stripped
    # False: the article's language is what the page declares (no detection from the body).
    detect_language: bool = True


def clean_text(text: str) -> str:
    """NUL, control and invisible characters removed, runs of spaces collapsed, blank lines
    squeezed (see tasks.extract.clean.sanitize)."""
    return sanitize(text)


def _clean_field(value: Any) -> str | None:
    if value is None:
        return None
    text = clean_text(str(value)).replace("\n", " ")
    return text or None


def content_hash(text: str) -> str:
    """SHA-256 of the text normalized for comparison (case, punctuation and spacing ignored)."""
    words = comparable_words(text)
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


def page_language(html: bytes) -> str | None:
    """The language the page declares (``<html lang>``, else ``og:locale``), as a lower-case
    ISO 639 code, e.g. ``en`` for ``en-US``."""
    head = html[:20_000]
    match = _HTML_LANG.search(head) or _OG_LOCALE.search(head)
    if match is None:
        return None
    return match.group(1).decode("ascii").replace("_", "-").split("-")[0].lower()


def _terms(values: Any) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values or []:
        term = _clean_field(value)
        if term and term.casefold() not in seen:
            seen[term.casefold()] = term
    return tuple(seen.values())


@functools.cache
def _trafilatura() -> Any:
    """trafilatura, imported once on first use (it is slow to import) without the
    DependencyWarning its unused downloader raises when PySocks is missing. Cached: swapping the
    process-wide warning filters on every page would race between extraction threads."""
    import warnings

    import urllib3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.DependencyWarning)
        import trafilatura
        import trafilatura.utils
    return trafilatura


def _not_an_article(raw: str, text: str) -> str | None:
    """Why a body is not an article (H7), or None when it is one. ``raw`` is the body before
    cleaning (which drops consent lines), ``text`` after."""
    if len(_WORD.findall(raw)) < WALL_WORDS and _WALL.search(raw):
        return Reason.CONSENT_OR_PAYWALL
    words = len(_WORD.findall(text))
    if words == 0:
        return Reason.NO_EXTRACTABLE_TEXT
    if len(text) < MIN_CHARS or (words < MIN_WORDS and len(text) < CJK_CHARS):
        return Reason.TOO_SHORT
    return None


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """A page as trafilatura read it, with its title and authors chosen (:func:`parse_page`)."""

    html: str  # decoded
    tree: Any  # the parsed page (lxml), read only
    data: dict[str, Any]  # trafilatura's document
    structured: StructuredData
    title: str | None
    authors: tuple[str, ...]
    raw: str  # trafilatura's body text, sanitized
    # the format characters swapped for stand-ins while trafilatura ran (keepchars.py); the
    # fields above hold stand-ins until :func:`unshielded`
    kept: keepchars.Shield | None = None


def unshielded(parsed: ParsedPage) -> ParsedPage:
    """``parsed`` with the stand-ins of its fields back to the page's own characters."""
    kept = parsed.kept
    if kept is None:
        return parsed
    return dataclasses.replace(
        parsed,
        data=kept.restore_fields(parsed.data),
        title=kept.restore(parsed.title),
        authors=tuple(kept.restore(a) or "" for a in parsed.authors),
        raw=kept.restore(parsed.raw) or "",
        kept=None,
    )


def _bare_extraction(page: Any, url: str, options: ExtractOptions, metadata: bool = True) -> Any:
    return _trafilatura().bare_extraction(
        page,
        url=url,
        with_metadata=metadata,
        include_comments=options.include_comments,
        include_tables=options.include_tables,
        favor_precision=options.favor_precision,
        favor_recall=options.favor_recall,
    )


def parse_page(page: PageInput) -> ParsedPage | ExtractionResult:
    """Decode and parse one page and run trafilatura on it; a failure is a result with a reason."""
    trafilatura = _trafilatura()
    options = page.options or ExtractOptions()
    html = decode_html(page.html, page.content_type)
    try:
        # Parsed once, as trafilatura parses: it extracts from a copy of the tree, and
        # siblings.restore reads the untouched tree (no second parse of the page).
        tree = trafilatura.utils.load_html(html)
        kept = keepchars.shield(tree, html)  # ZWJ, ZWNJ, bidi marks: trafilatura drops them
        doc = _bare_extraction(html if tree is None else tree, page.url, options)
    except Exception as exc:  # trafilatura may raise on hostile markup: record it, go on
        return ExtractionResult(
            page.url, None, Reason.EXTRACT_ERROR, f"{type(exc).__name__}: {exc}"
        )
    if doc is None:
        return ExtractionResult(
            page.url, None, Reason.NO_EXTRACTABLE_TEXT, "trafilatura found no body"
        )
    data = doc if isinstance(doc, dict) else doc.as_dict()
    structured = read_structured(tree)
    title, authors = page_metadata(tree, data, structured, page.url)
    raw = sanitize(data.get("text") or "")
    return ParsedPage(html, tree, data, structured, title, authors, raw, kept)


def page_metadata(
    tree: Any, data: dict[str, Any], structured: StructuredData, url: str, skip: Skip = frozenset()
) -> tuple[str | None, tuple[str, ...]]:
    """(title, authors) of a page from its tree, trafilatura's document and its JSON-LD; the
    rules named in ``skip`` (:data:`tasks.extract.pagemeta.META_RULES`) left out."""
    head = read_head(tree)
    site = _clean_field(data.get("sitename"))
    meta_title = _clean_field(data.get("title"))
    title = _clean_field(page_title(structured, meta_title, head, site, url, skip))
    byline = _clean_field(data.get("author"))
    body = data.get("text") or ""
    authors = choose_authors(structured, byline, head.author_tags, site, url, tree, skip, body)
    return title, authors


def _precise_raw(page: PageInput, parsed: ParsedPage) -> str | None:
    """trafilatura's text of the page in ``favor_precision`` mode (the second opinion)."""
    options = dataclasses.replace(page.options or ExtractOptions(), favor_precision=True)
    try:
        doc = _bare_extraction(parsed.tree, page.url, options, metadata=False)
    except Exception:  # a second opinion that fails is no opinion
        return None
    data = doc if doc is None or isinstance(doc, dict) else doc.as_dict()
    return sanitize(data.get("text") or "") if data else None


def page_body(
    page: PageInput, parsed: ParsedPage, skip: Skip = frozenset()
) -> tuple[str, str, str | None]:
    """(cleaned body, stored body, why it is not an article or None): the stored body is the
    cleaned one without the source's boilerplate lines (``skip``: body rules left out, see
    :data:`tasks.extract.body.RULES`). A body that cleaning had to cut much of is re-checked against
    trafilatura's ``favor_precision`` mode (:func:`tasks.extract.body.second_opinion`)."""
    cleaned = body_text(parsed.tree, parsed.raw, parsed.title, skip)
    asked = "recheck" not in skip and not (page.options or ExtractOptions()).favor_precision
    if asked and parsed.tree is not None and needs_recheck(parsed.raw, cleaned):
        other = _precise_raw(page, parsed)
        if other:
            cleaned = second_opinion(cleaned, body_text(parsed.tree, other, parsed.title, skip))
    if parsed.kept is not None:  # stand-ins back to the characters (the tree keeps them)
        cleaned = parsed.kept.restore(cleaned) or ""
    text = boilerplate.strip(cleaned, page.boilerplate)  # before counting words and hashing
    return cleaned, text, _not_an_article(unshielded(parsed).raw, text)


def extract_page(page: PageInput) -> ExtractionResult:
    """Extract one page; a page with no usable text is a result with a reason, not an error."""
    parsed = parse_page(page)
    if isinstance(parsed, ExtractionResult):
        return parsed
    cleaned, text, reason = page_body(page, parsed)
    parsed = unshielded(parsed)
    if reason is not None:
        detail = f"body has {len(_WORD.findall(text))} words, {len(text)} characters"
        return ExtractionResult(page.url, None, reason, detail)
    keys = boilerplate.line_keys(cleaned)  # before stripping: what learning counts
    return ExtractionResult(page.url, _article(page, parsed, text, keys))


def _article(
    page: PageInput, parsed: ParsedPage, text: str, keys: tuple[str, ...] = ()
) -> ExtractedArticle:
    data, html = parsed.data, parsed.html
    site_name = _clean_field(data.get("sitename"))
    page_lang = page_language(page.html)
    published, modified, date_source = dates(data.get("date"), html, page.url)
    sig = signature(text)
    words = len(_WORD.findall(text))
    declared = _clean_field(data.get("url"))  # the page's rel=canonical / og:url
    canonical = declared if declared and accept_page_canonical(page.url, declared) else page.url
    return ExtractedArticle(
        url=page.url,
        canonical_url=canonicalize_url(canonical) or canonicalize_url(page.url) or page.url,
        text=text,
        content_hash=content_hash(text),
        title=parsed.title,
        description=_clean_field(data.get("description")),
        authors=parsed.authors,
        published_at=published,
        modified_at=modified,
        date_source=date_source,
        site_name=site_name,
        language=detect_language(text, page_lang) if page.detect_language else page_lang,
        image_url=_clean_field(data.get("image")),
        tags=_terms(list(data.get("categories") or []) + list(data.get("tags") or [])),
        word_count=words,
        minhash=sig,
        bands=tuple(band_hashes(sig)),
        line_keys=keys,
        accessible_for_free=parsed.structured.accessible_for_free,
        paywall_teaser=paywall_teaser(parsed.structured.accessible_for_free, parsed.raw, words),
    )


def pages_to_extract(
    fetched: Sequence[FetchOutcome], learned: frozenset[str] = frozenset()
) -> list[PageInput]:
    """The successfully fetched pages, in order, as extraction inputs (``learned``: the source's
    boilerplate line keys, stripped from each)."""
    return [page_input(f, learned) for f in fetched if f.ok and f.body is not None]


def page_input(
    outcome: FetchOutcome,
    learned: frozenset[str] = frozenset(),
    options: ExtractOptions | None = None,
) -> PageInput:
    """A successfully fetched page as an extraction input (``learned``: the source's boilerplate
    line keys, stripped from it; ``options``: the source's, else the defaults)."""
    body = outcome.body or b""
    page = PageInput(
        outcome.final_url or outcome.url, body, outcome.content_type, boilerplate=learned
    )
    return page if options is None else dataclasses.replace(page, options=options)


# Extracts a list of pages, one result per input in order (inline, or in the worker pool).
ExtractMany = Callable[[list[PageInput]], list[ExtractionResult]]


def extract_fetched(
    pages: Sequence[FetchedPage],
    extract: ExtractMany,
    learned: frozenset[str] = frozenset(),
    options: ExtractOptions | None = None,
) -> list[ExtractedPage]:
    """Each fetched page with the extraction of its body (none for a page that was not
    fetched): the extractable pages go to ``extract`` as one list."""
    todo = [n for n, page in enumerate(pages) if page.extractable]
    results = extract([page_input(pages[n].fetch, learned, options) for n in todo])
    by_index = dict(zip(todo, results, strict=True))
    return [ExtractedPage(page, by_index.get(n)) for n, page in enumerate(pages)]


def page_result(extracted: ExtractedPage, keep_raw: bool = True) -> PageResult:
    """What storage takes of an extracted page: the fetch without its body (kept compressed as
    ``raw`` with ``keep_raw``) and the article; a failed extraction becomes the fetch row's
    reason."""
    item, outcome = extracted.page.item, extracted.page.fetch
    slim = dataclasses.replace(outcome, body=None)
    extraction = extracted.extraction
    if extraction is None or not extracted.page.extractable:
        return PageResult(fetch=slim, item=item)
    if extraction.article is None:
        slim = dataclasses.replace(slim, reason=extraction.reason, detail=extraction.detail)
    raw = compress_page(outcome) if keep_raw else None
    return PageResult(fetch=slim, item=item, article=extraction.article, raw=raw)


def page_results(pages: Sequence[ExtractedPage], keep_raw: bool = True) -> list[PageResult]:
    """:func:`page_result` of every page of a batch."""
    return [page_result(page, keep_raw) for page in pages]
