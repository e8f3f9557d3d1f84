"""Extraction: page bytes -> a normalized, hashed article (trafilatura), one page or a batch."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import multiprocessing
import os
import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.dedup import accept_page_canonical, band_hashes, signature
from tasks.encoding import decode_html
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult
from tasks.urls import canonicalize_url

MIN_WORDS = 25
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_WORD = re.compile(r"\w+")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\|| and | & |,\s*(?=[A-Z]))\s*")
_BYLINE = re.compile(r"^(?:by|von|par|por|door|di)(?:\s+|$)", re.IGNORECASE)
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


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    url: str
    article: ExtractedArticle | None
    reason: str = "ok"  # machine-readable when article is None
    detail: str | None = None


def clean_text(text: str) -> str:
    """NUL and control characters removed, runs of spaces collapsed, blank lines squeezed."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _clean_field(value: Any) -> str | None:
    if value is None:
        return None
    text = clean_text(str(value)).replace("\n", " ")
    return text or None


def content_hash(text: str) -> str:
    """SHA-256 of the text normalized for comparison (case, punctuation and spacing ignored)."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


def split_authors(raw: str | None, site_name: str | None = None) -> tuple[str, ...]:
    """Split trafilatura's author string, strip "By", drop the site's own name and repeats."""
    if not raw:
        return ()
    site = (site_name or "").casefold()
    names: list[str] = []
    for part in _AUTHOR_SPLIT.split(raw):
        name = _BYLINE.sub("", part).strip(" ,.;:-")
        if len(name) < 2 or name.casefold() == site or name.casefold() in map(str.casefold, names):
            continue
        names.append(name)
    return tuple(names)


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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
def load_trafilatura() -> Any:
    """trafilatura, imported once on first use (it is slow to import) without the
    DependencyWarning its unused downloader raises when PySocks is missing. Cached: swapping the
    process-wide warning filters on every page would race between extraction threads."""
    import warnings

    import urllib3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.DependencyWarning)
        import trafilatura
    return trafilatura


def extract_page(page: PageInput) -> ExtractionResult:
    """Extract one page; a page with no usable text is a result with a reason, not an error."""
    trafilatura = load_trafilatura()
    try:
        doc = trafilatura.bare_extraction(
            decode_html(page.html, page.content_type),
            url=page.url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
        )
    except Exception as exc:  # trafilatura may raise on hostile markup: record it, go on
        return ExtractionResult(page.url, None, "extract_error", f"{type(exc).__name__}: {exc}")
    if doc is None:
        return ExtractionResult(page.url, None, "no_extractable_text", "trafilatura found no body")
    data = doc if isinstance(doc, dict) else doc.as_dict()
    text = clean_text(data.get("text") or "")
    words = len(_WORD.findall(text))
    if words < MIN_WORDS:
        return ExtractionResult(
            page.url, None, "no_extractable_text", f"body has {words} words (< {MIN_WORDS})"
        )
    site_name = _clean_field(data.get("sitename"))
    sig = signature(text)
    declared = _clean_field(data.get("url"))  # the page's rel=canonical / og:url
    canonical = declared if declared and accept_page_canonical(page.url, declared) else page.url
    article = ExtractedArticle(
        url=page.url,
        canonical_url=canonicalize_url(canonical) or canonicalize_url(page.url) or page.url,
        text=text,
        content_hash=content_hash(text),
        title=_clean_field(data.get("title")),
        description=_clean_field(data.get("description")),
        authors=split_authors(_clean_field(data.get("author")), site_name),
        published_at=_parse_date(data.get("date")),
        site_name=site_name,
        language=_clean_field(data.get("language")) or page_language(page.html),
        image_url=_clean_field(data.get("image")),
        tags=_terms(list(data.get("categories") or []) + list(data.get("tags") or [])),
        word_count=words,
        minhash=sig,
        bands=tuple(band_hashes(sig)),
    )
    return ExtractionResult(page.url, article)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: the signal test is all we have
    return state not in {"Z", "X"}


def exit_with_parent(parent: int, every: float = 0.5) -> None:
    """Pool initializer: end this worker once ``parent``, the process that made the pool, is gone.
    A worker otherwise outlives a ``kill -9`` of its parent, waiting forever on a queue nobody
    feeds (and keeps the fork server it came from alive)."""

    def watch() -> None:
        while process_alive(parent):
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def make_pool(workers: int) -> Executor:
    """A process pool for extraction: workers recycled to bound memory, ending with the process
    that made the pool. Where the platform has it, workers are forked from a fork server that
    imported trafilatura once (``tasks.extract_worker``), so starting or recycling one costs
    milliseconds instead of a fresh interpreter's import of trafilatura (~2 s of CPU)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["tasks.extract_worker"])
    else:  # pragma: no cover - Windows
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        max_tasks_per_child=200,
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )


def extract_many(pages: Sequence[PageInput], pool: Executor | None) -> list[ExtractionResult]:
    """Extract pages in ``pool`` (or inline without one); results keep the input order."""
    if pool is None or len(pages) < 2:
        return [extract_page(page) for page in pages]
    return list(pool.map(extract_page, pages, chunksize=4))


def pages_to_extract(fetched: Sequence[FetchOutcome]) -> list[PageInput]:
    """The successfully fetched pages, in order, as extraction inputs."""
    return [
        PageInput(f.final_url or f.url, f.body, f.content_type)
        for f in fetched
        if f.ok and f.body is not None
    ]


def page_results(
    items: Sequence[FeedItem],
    fetched: Sequence[FetchOutcome],
    extracted: Sequence[ExtractionResult],
) -> list[PageResult]:
    """Pair each item with its fetch and (for fetched pages, in order) its extraction; bodies are
    dropped, and a failed extraction becomes the fetch row's reason."""
    results = iter(extracted)
    pages: list[PageResult] = []
    for item, outcome in zip(items, fetched, strict=True):
        slim = dataclasses.replace(outcome, body=None)
        if not outcome.ok or outcome.body is None:
            pages.append(PageResult(fetch=slim, item=item))
            continue
        extraction = next(results)
        if extraction.article is None:
            slim = dataclasses.replace(slim, reason=extraction.reason, detail=extraction.detail)
        pages.append(PageResult(fetch=slim, item=item, article=extraction.article))
    return pages
