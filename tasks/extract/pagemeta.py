"""The article's title and authors chosen among what the page says about itself: its JSON-LD
(:mod:`tasks.extract.jsonld`), its ``<h1>``, and what trafilatura read from its meta tags.

Measured on the fundus pages (bench/extraction.py): the JSON-LD headline matches the expected
title more often than ``og:title`` (which trafilatura prefers), and a title that is the ``<h1>``
plus a separator and a site or section name is the ``<h1>``. Authors typed ``Person`` in the
JSON-LD are names; trafilatura's byline is the fallback, and an ``Organization`` author (a desk,
an agency, the publisher) is kept only when the page names no person.
"""

from __future__ import annotations

import re
from typing import Any

from tasks.extract.jsonld import StructuredData
from tasks.extract.metadata import clean_title, is_site_name, split_authors

# A separator between title parts: " | ", " - ", " :: ", fullwidth ones, and the Korean "ㅣ"
# (a Hangul letter used as a bar: "...-정치ㅣ한국일보").
_SEPARATOR = re.compile(r"\s+[|\-–—·:/*]{1,2}\s+|\s*[｜：ㅣ]\s*|-(?=[^\s-]+ㅣ)")
LABEL_WORDS = 3  # a part this short beside the <h1> is a label; a longer one may be a kicker
_BY = re.compile(r"\s+[|\-–—·*]\s+by\s+[^|\-–—·*]+$", re.IGNORECASE)  # "... | by Jane Doe"


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def first_heading(tree: Any) -> str | None:
    """The text of the page's first ``<h1>``, spaces collapsed."""
    if tree is None:
        return None
    for element in tree.iter("h1"):
        text = " ".join(element.text_content().split())
        if text:
            return text
    return None


def choose_title(
    structured: StructuredData, meta_title: str | None, h1: str | None, site: str | None, url: str
) -> str | None:
    """The headline: the JSON-LD ``headline``, else trafilatura's title (``og:title``,
    ``<title>``), a trailing "by Author" and the site's name cut off; the ``<h1>`` instead when
    the chosen title is the ``<h1>`` plus a site or section label (``Vierschanzentournee | ...``,
    ``... - National``), not when the other part is a longer kicker."""
    title = clean_title(_BY.sub("", structured.headline or meta_title or ""), site, url)
    if not title or not h1 or _norm(h1) == _norm(title):
        return title
    for part in _SEPARATOR.finditer(title):
        head, tail = title[: part.start()], title[part.end() :]
        rest = tail if _norm(h1) == _norm(head) else head if _norm(h1) == _norm(tail) else None
        if rest is not None and (len(rest.split()) <= LABEL_WORDS or "|" in part.group()):
            return h1
    return title


def author_tags(tree: Any) -> tuple[str, ...]:
    """The page's ``<meta name="author">`` values."""
    if tree is None:
        return ()
    found = (m.get("content") or "" for m in tree.iter("meta") if m.get("name") == "author")
    return tuple(" ".join(value.split()) for value in found if value.strip())


def choose_authors(
    structured: StructuredData,
    meta_author: str | None,
    meta_authors: tuple[str, ...],
    site: str | None,
    url: str,
) -> tuple[str, ...]:
    """Person names: the JSON-LD's people, else trafilatura's byline (``meta_author``), else the
    page's ``<meta name="author">`` tags; the JSON-LD's organization authors when none of these
    names anyone but the site itself; the publisher's own name dropped when people are named."""
    people = split_authors("; ".join(structured.people), site, url)
    if not people:
        people = split_authors(meta_author, site, url)
    if not people:  # trafilatura drops names without a space ("신현주 기자", "李小龙")
        people = split_authors("; ".join(meta_authors), site, url)
    organizations = split_authors("; ".join(structured.organizations), None, "")
    if not people or all(is_site_name(name, site, url) for name in people):
        return organizations or people
    publisher = _norm(structured.publisher)
    return tuple(name for name in people if _norm(name) != publisher) or people
