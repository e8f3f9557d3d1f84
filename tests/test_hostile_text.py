"""Text stays exact (issue 16): only characters that are unsafe to store are removed from a page's
title and body (joiners, variation selectors, bidi marks and emoji tags stay), and page bytes are
decoded as what they are (a declared UTF-8 page with a few stray bytes stays UTF-8, a charset
that cannot be true is ignored, a legacy guess prefers the page's language)."""

from __future__ import annotations

import pytest

from tasks.extract.extract import PageInput, extract_page
from tasks.fetch.encoding import decode_html, sniff_encoding

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


# === family 8: encodings =========================================================================

FRENCH = (
    "Une approche naïve du problème a coûté cher : le maire a reconnu que la décision était "
    "précipitée, et les élus de l'opposition ont réclamé une enquête sur les dépenses engagées "
    "pendant l'été, avant la rentrée."
)


def html_page(text: str, head: str = "", lang: str = "") -> str:
    attribute = f' lang="{lang}"' if lang else ""
    return (
        f"<html{attribute}><head>{head}<title>Le dossier</title></head><body><article>"
        f"<p>{text}</p><p>{text}</p></article></body></html>"
    )


def test_sniff_encoding_declared_utf8_with_a_few_stray_bytes_stays_utf8() -> None:
    body = (
        html_page(FRENCH, '<meta charset="utf-8">')
        .encode("utf-8")
        .replace(b"rentr", b"\xff\xferentr")
    )

    name, origin = sniff_encoding(body, "text/html; charset=utf-8")
    text = decode_html(body, "text/html; charset=utf-8")

    assert name == "utf-8", origin
    assert "naïve" in text and "précipitée" in text
    assert text.count("\ufffd") == 4  # the two stray bytes, in both paragraphs


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("fr", "Une approche naïve. " * 5),
        ("en", "The naïve plan failed, officials said on Tuesday after a long meeting. " * 2),
    ],
)
def test_sniff_encoding_false_utf8_label_on_cp1252_follows_the_page_language(
    lang: str, text: str
) -> None:
    body = html_page(text, '<meta charset="utf-8">', lang=lang).encode("cp1252")

    assert sniff_encoding(body, "text/html; charset=utf-8")[0] == "cp1252"
    assert text in decode_html(body, "text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("lang", "text", "codec"),
    [
        ("en", "A naïve café owner’s résumé — nothing more.", "cp1252"),
        ("pl", "Zażółć gęślą jaźń, powiedział burmistrz w środę.", "cp1250"),
        ("ru", "Мэр города заявил, что решение было поспешным.", "cp1251"),
    ],
)
def test_sniff_encoding_undeclared_legacy_page_prefers_its_language(
    lang: str, text: str, codec: str
) -> None:
    body = html_page(text, lang=lang).encode(codec)

    assert sniff_encoding(body, "text/html")[0] == codec
    assert text in decode_html(body, "text/html")


@pytest.mark.parametrize("label", ["utf-16", "utf-16le", "utf-32", "cp037"])
def test_sniff_encoding_meta_charset_that_cannot_be_true_is_ignored(label: str) -> None:
    body = html_page("Plain ASCII article text. " * 20, f'<meta charset="{label}">').encode()

    assert sniff_encoding(body, "text/html")[0] in ("utf-8", "cp1252")


def test_extract_page_ascii_page_with_utf16_meta_is_extracted() -> None:
    words = " ".join(f"word{i}" for i in range(80))
    body = html_page(f"The council met on Tuesday. {words}.", '<meta charset="utf-16">').encode()

    result = extract_page(PageInput("http://a.test/story", body, "text/html"))

    assert result.article is not None, result
    assert "The council met on Tuesday." in result.article.text


def test_sniff_encoding_utf16_header_on_a_utf16_body_is_kept() -> None:
    body = html_page("Texte en UTF-16 sans BOM.").encode("utf-16-le")

    assert sniff_encoding(body, "text/html; charset=utf-16le")[0] == "utf-16-le"
