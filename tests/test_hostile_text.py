"""Text stays exact (issue 16): only characters that are unsafe to store are removed from a page's
title and body (joiners, variation selectors, bidi marks and emoji tags stay), and page bytes are
decoded as what they are (a declared UTF-8 page with a few stray bytes stays UTF-8, a charset
that cannot be true is ignored, a legacy guess prefers the page's language)."""

from __future__ import annotations

import pytest

from tasks.extract import PageInput, extract_page

WORDS = " ".join(f"word{i}" for i in range(60))
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
HEART = "\u2764\ufe0f"
BIDI = "\u200fRTL mark\u200e and \u2067isolate\u2069"


def page(title: str, sentence: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{sentence} {WORDS}.</p><p>A second paragraph follows here. {WORDS}.</p>"
        "</article></body></html>"
    ).encode()


@pytest.mark.parametrize(
    "kept", [FAMILY, PERSIAN, ENGLAND, HEART, BIDI], ids=["zwj", "zwnj", "tags", "vs16", "bidi"]
)
def test_extract_page_keeps_format_characters_in_title_and_text(kept: str) -> None:
    body = page(f"News {kept} today", f"The story of {kept} was told.")

    result = extract_page(PageInput("http://a.test/story", body, "text/html; charset=utf-8"))

    assert result.article is not None, result
    assert result.article.title == f"News {kept} today"
    assert f"The story of {kept} was told." in result.article.text


def test_extract_page_keeps_format_characters_written_as_references() -> None:
    body = page("Family &#x1F469;&zwj;&#x1F467; day", "Persian &#1605;&#1740;&#8204;&#1582;.")

    result = extract_page(PageInput("http://a.test/story", body, "text/html; charset=utf-8"))

    assert result.article is not None, result
    assert result.article.title == "Family \U0001f469\u200d\U0001f467 day"
    assert "Persian \u0645\u06cc\u200c\u062e." in result.article.text


def test_extract_page_with_braille_text_still_keeps_joiners() -> None:
    body = page(f"Braille \u2801\u2803 {FAMILY}", f"Text \u2809 and {FAMILY} here.")

    result = extract_page(PageInput("http://a.test/story", body, "text/html; charset=utf-8"))

    assert result.article is not None, result
    assert result.article.title == f"Braille \u2801\u2803 {FAMILY}"
    assert f"Text \u2809 and {FAMILY} here." in result.article.text


def test_extract_page_removes_unsafe_characters_from_title_and_text() -> None:
    body = page("Bad &#xFDD0;title\x01", "Body\x7f with\ufffe junk.")

    result = extract_page(PageInput("http://a.test/story", body, "text/html; charset=utf-8"))

    assert result.article is not None, result
    assert result.article.title == "Bad title"
    assert "Body with junk." in result.article.text
