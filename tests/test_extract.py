"""Extraction: text cleaning, content hashing, author splitting, one page and a batch in a pool."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.dedup.urls import canonicalize_url
from tasks.extract.extract import (
    PageInput,
    clean_text,
    content_hash,
    extract_page,
)
from tasks.extract.metadata import split_authors
from tasks.extract.workers import ExtractionPool, extract_many
from tasks.records import ExtractionResult

POOL_PAGES = ["wired.com/wired.com1", "al.com/al.com1", "nypost.com/nypost.com1"]
NAV_ONLY = b"<html><body><nav>menu</nav></body></html>"


def load_page(corpus: Path, name: str) -> tuple[PageInput, dict[str, object]]:
    """A corpus page as the fetcher would hand it over, plus its ``expected.json``."""
    base = corpus / "web" / "pages" / name
    expected = json.loads(base.with_name(base.name + ".expected.json").read_text("utf-8"))
    html = base.with_name(base.name + ".html").read_bytes()
    return PageInput(url=str(expected["url"]), html=html), expected


def word_recall(expected: str, got: str) -> float:
    want = re.findall(r"\w+", expected.lower())
    have = set(re.findall(r"\w+", got.lower()))
    return sum(word in have for word in want) / max(1, len(want))


@pytest.fixture(scope="module")
def wired(corpus: Path) -> tuple[ExtractionResult, dict[str, object]]:
    page, expected = load_page(corpus, "wired.com/wired.com1")
    return extract_page(page), expected


# -- clean_text -------------------------------------------------------------------------------


def test_clean_text_strips_nul_and_control_chars() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x7fe\x0cf") == "abcdef"


def test_clean_text_keeps_newlines_between_lines() -> None:
    assert clean_text("first\r\nsecond\nthird") == "first\nsecond\nthird"


def test_clean_text_collapses_spaces() -> None:
    assert clean_text("  a  \t b\u00a0\u00a0c\u3000d  ") == "a b c d"


def test_clean_text_squeezes_blank_lines() -> None:
    assert clean_text("\n\npara one\n\n\n \n\t\npara two\n\n") == "para one\n\npara two"


# -- content_hash -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "The quick brown fox jumps over the lazy dog",
        "  The quick   brown fox\njumps over\n\nthe lazy dog  ",
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
        "The quick, brown fox -- jumps over the “lazy” dog!",
    ],
)
def test_content_hash_stable_under_whitespace_case_punctuation(variant: str) -> None:
    assert content_hash(variant) == content_hash("the quick brown fox jumps over the lazy dog")


def test_content_hash_differs_for_different_text() -> None:
    assert content_hash("the quick brown fox") != content_hash("the quick brown cat")


def test_content_hash_is_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash("some text"))


# -- split_authors ----------------------------------------------------------------------------


def test_split_authors_strips_by_and_splits_on_and() -> None:
    assert split_authors("By Jane Doe and John Roe") == ("Jane Doe", "John Roe")


@pytest.mark.parametrize(
    "raw", ["Jane Doe; Jane Doe", "Jane Doe | jane doe", "By Jane Doe, Jane Doe"]
)
def test_split_authors_dedups_repeats(raw: str) -> None:
    assert split_authors(raw) == ("Jane Doe",)


@pytest.mark.parametrize(
    ("raw", "site"), [("Jane Doe | WIRED", "Wired"), ("WIRED; Jane Doe", "WIRED")]
)
def test_split_authors_drops_site_name(raw: str, site: str) -> None:
    assert split_authors(raw, site) == ("Jane Doe",)


@pytest.mark.parametrize("raw", ["Jane Doe;John Roe", "Jane Doe | John Roe", "Jane Doe ; John Roe"])
def test_split_authors_splits_on_semicolon_and_pipe(raw: str) -> None:
    assert split_authors(raw) == ("Jane Doe", "John Roe")


@pytest.mark.parametrize("raw", [None, "", " ; | "])
def test_split_authors_without_names_gives_empty(raw: str | None) -> None:
    assert split_authors(raw) == ()


# -- extract_page -----------------------------------------------------------------------------


def test_extract_page_real_page_recalls_expected_text(
    wired: tuple[ExtractionResult, dict[str, object]],
) -> None:
    result, expected = wired
    assert result.reason == "ok" and result.article is not None
    assert word_recall(str(expected["text"]), result.article.text) >= 0.9


def test_extract_page_real_page_has_title(
    wired: tuple[ExtractionResult, dict[str, object]],
) -> None:
    article = wired[0].article
    assert article is not None and article.title
    assert "Butterflies" in article.title


def test_extract_page_real_page_counts_words(
    wired: tuple[ExtractionResult, dict[str, object]],
) -> None:
    article = wired[0].article
    assert article is not None
    assert article.word_count > 100
    assert article.word_count == len(re.findall(r"\w+", article.text))


def test_extract_page_real_page_hashes_text(
    wired: tuple[ExtractionResult, dict[str, object]],
) -> None:
    article = wired[0].article
    assert article is not None
    assert re.fullmatch(r"[0-9a-f]{64}", article.content_hash)
    assert article.content_hash == content_hash(article.text)


def test_extract_page_real_page_canonical_url(
    wired: tuple[ExtractionResult, dict[str, object]],
) -> None:
    result, expected = wired
    assert result.article is not None
    assert result.url == result.article.url == expected["url"]
    assert result.article.canonical_url == canonicalize_url(str(expected["url"]))


def test_extract_page_real_page_date_is_tz_aware(
    wired: tuple[ExtractionResult, dict[str, object]],
) -> None:
    article = wired[0].article
    assert article is not None
    if article.published_at is not None:
        assert article.published_at.utcoffset() is not None


def test_extract_page_no_text_gives_no_extractable_text() -> None:
    result = extract_page(PageInput("https://news.example.test/empty", NAV_ONLY))
    assert result.article is None
    assert result.reason == "no_extractable_text"


@pytest.mark.parametrize(
    "html",
    [
        pytest.param(b"", id="empty"),
        pytest.param(random.Random(7).randbytes(8192), id="random-bytes"),
        pytest.param(b"\x00" * 2048, id="nul-bytes"),
        pytest.param(b"<html><body><p>unterminated <b><i", id="truncated-html"),
        pytest.param("<html><body><p>é</p></body></html>".encode("utf-16"), id="utf-16"),
        pytest.param(b"<?xml version='1.0'?><rss><channel/></rss>", id="xml"),
        pytest.param(b"<div>" * 5000 + b"deep" + b"</div>" * 5000, id="deep-nesting"),
    ],
)
def test_extract_page_garbage_never_raises(html: bytes) -> None:
    result = extract_page(PageInput("https://news.example.test/x", html))
    assert result.article is None
    assert result.reason in {"no_extractable_text", "extract_error"}


# -- extract_many -----------------------------------------------------------------------------


def test_extract_many_pool_matches_inline_in_order(corpus: Path) -> None:
    pages = [load_page(corpus, name)[0] for name in POOL_PAGES]
    pages.insert(1, PageInput("https://news.example.test/empty", NAV_ONLY))
    inline = [extract_page(page) for page in pages]
    pool = ExtractionPool(2)
    try:
        pooled = extract_many(pages, pool)
    finally:
        pool.shutdown()
    assert [r.url for r in pooled] == [p.url for p in pages]
    assert pooled == inline


def test_extract_many_without_pool_extracts_inline() -> None:
    pages = [PageInput(f"https://news.example.test/{n}", NAV_ONLY) for n in range(3)]
    assert extract_many(pages, None) == [extract_page(page) for page in pages]


# -- H7 / H8: stubs are not stored, unsafe characters never reach the database -------------------

ARTICLE = " ".join(
    f"<p>Paragraph {i} of the council report says the budget for the new library grew again "
    f"this year, and the mayor defended the cost at a public meeting on Tuesday evening.</p>"
    for i in range(6)
)


def _page(body: str) -> PageInput:
    html = f"<html><head><title>Budget grows</title></head><body><article>{body}</article></body>"
    return PageInput("https://news.example.test/2024/05/17/budget", html.encode())


def test_extract_page_short_body_gives_too_short() -> None:
    result = _page("<p>The council met on Tuesday and approved the budget.</p>")
    assert extract_page(result).reason == "too_short"


def test_extract_page_cookie_wall_gives_consent_or_paywall() -> None:
    wall = (
        "<p>We use cookies to personalise content and ads and to analyse our traffic. "
        "Please accept cookies to continue to the site, or manage your cookie settings "
        "to choose which partners may store information on your device.</p>"
    )
    assert extract_page(_page(wall)).reason == "consent_or_paywall"


def test_extract_page_strips_nul_control_and_soft_hyphen() -> None:
    article = extract_page(_page(ARTICLE.replace("budget", "bud\x00get\x07\xadx"))).article
    assert article is not None
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\xad]", article.text)
    assert "budgetx" in article.text


def test_extract_page_takes_date_from_url_path_without_page_date() -> None:
    article = extract_page(_page(ARTICLE)).article
    assert article is not None
    assert (article.published_at, article.date_source) == (
        datetime(2024, 5, 17, tzinfo=UTC),
        "url",
    )


def test_extract_page_reads_modified_time() -> None:
    meta = '<meta property="article:modified_time" content="2024-05-18T10:00:00+02:00">'
    page = _page(ARTICLE)
    page = PageInput(page.url, page.html.replace(b"<title>", meta.encode() + b"<title>"))
    article = extract_page(page).article
    assert article is not None
    assert article.modified_at == datetime(2024, 5, 18, 8, 0, tzinfo=UTC)


def test_extract_page_detects_language_of_body_over_declared() -> None:
    german = " ".join(
        f"<p>Der Gemeinderat hat am Dienstag zum {i}. Mal den Haushalt für die neue Bibliothek "
        "beschlossen, und der Bürgermeister verteidigte die Kosten in einer Sitzung.</p>"
        for i in range(4)
    )
    page = _page(german)
    page = PageInput(page.url, page.html.replace(b"<html>", b'<html lang="en">'))
    article = extract_page(page).article
    assert article is not None
    assert article.language == "de"
