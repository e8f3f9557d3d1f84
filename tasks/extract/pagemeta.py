"""The article's title and authors chosen among what the page says about itself: its JSON-LD
(:mod:`tasks.extract.jsonld`), its head (``og:title``, ``<title>``, ``<meta name="author">``), its
byline elements (:mod:`tasks.extract.bylines`) and what trafilatura read.

Measured on the fundus pages (bench/extraction.py): the JSON-LD headline matches the expected
title about as often as ``og:title`` (which trafilatura prefers: on 75 pages the two differ, and
the expected title is the ``og:title`` on 36, the headline on 39). Authors typed
``Person`` in the JSON-LD are names; trafilatura's byline is the fallback, and an
``Organization`` author (a desk, an agency, the publisher) is kept only when the page names no
person. Every choice beyond the first is a named rule (:data:`META_RULES`) that the benchmark
switches off in turn, as it does the body rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.extract.bylines import body_byline, byline_names
from tasks.extract.jsonld import StructuredData
from tasks.extract.metadata import is_site_name, split_authors
from tasks.extract.titles import choose_title

# headline: the JSON-LD headline before trafilatura's title (og:title, <title>);
# prefix: the site's name before a bar goes too ("NEWS WEB EASY|...", "Tageblatt.lu | ...");
# byline: the page's byline elements name the authors when its metadata names only the site;
# bodyline: ... else a byline paragraph at the body's start or end names them;
# places: an author tag that names the site ("hessenschau.de, Frankfurt, Germany") names no
# one-word people beside it (they are its places).
# label: a one-word label before "von"/"by" goes ("Capital Von Jemima Kelly").
META_RULES = ("headline", "prefix", "label", "byline", "bodyline", "places")


@dataclass(frozen=True, slots=True)
class PageHead:
    """What the page's head says about the article (spaces collapsed)."""

    og_title: str | None = None
    twitter_title: str | None = None
    html_title: str | None = None  # the <title> element
    author_tags: tuple[str, ...] = ()  # <meta name="author"> values


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


_TITLE_META = {"og:title": "og_title", "twitter:title": "twitter_title"}


def read_head(tree: Any) -> PageHead:
    """The page's ``og:title``, ``twitter:title``, ``<title>`` and author tags, in one walk of
    the tree."""
    if tree is None:
        return PageHead()
    found: dict[str, str] = {}
    authors: list[str] = []
    for element in tree.iter("meta", "title"):
        tag = element.tag
        if tag == "meta":
            key = (element.get("property") or element.get("name") or "").casefold()
            content = _text(element.get("content"))
            if key == "author" and element.get("name") and content:
                authors.append(content)
            elif key in _TITLE_META and content:
                found.setdefault(_TITLE_META[key], content)
        elif tag not in found and (text := _text(element.text_content())):
            found[tag] = text
    return PageHead(
        found.get("og_title"),
        found.get("twitter_title"),
        found.get("title"),
        tuple(authors),
    )


def page_title(
    structured: StructuredData,
    meta_title: str | None,
    head: PageHead,
    site: str | None,
    url: str,
    skip: frozenset[str] = frozenset(),
) -> str | None:
    """The headline (:func:`tasks.extract.titles.choose_title`) of the JSON-LD, else
    trafilatura's (``meta_title``), else the page's ``og:title`` or ``<title>``."""
    names = (structured.publisher,) if structured.publisher else ()
    headline = None if "headline" in skip else structured.headline
    title = headline or meta_title or head.og_title or head.html_title or structured.headline
    prefix = "prefix" not in skip
    return choose_title(title, site, url, names, prefix)


def choose_authors(
    structured: StructuredData,
    meta_author: str | None,
    meta_authors: tuple[str, ...],
    site: str | None,
    url: str,
    tree: Any = None,
    skip: frozenset[str] = frozenset(),
    body: str = "",
) -> tuple[str, ...]:
    """Person names: the JSON-LD's people, else trafilatura's byline (``meta_author``), else the
    page's ``<meta name="author">`` tags (rule ``places``: without one-word parts when a tag also
    names the site); when these name no one but the site, the page's byline elements (rule
    ``byline``), else a byline paragraph of the ``body`` (rule ``bodyline``); the JSON-LD's
    organization authors when still no one but the site is named; the publisher's own name
    dropped when people are named."""
    labels = "label" not in skip
    people = split_authors("; ".join(structured.people), site, url, labels)
    places = "places" not in skip and any(_names_site(t, site, url) for t in meta_authors)
    if not people:
        people = _people(split_authors(meta_author, site, url, labels), places)
    if not people:  # trafilatura drops names without a space ("신현주 기자", "李小龙")
        people = _people(split_authors("; ".join(meta_authors), site, url, labels), places)
    if _only_site(people, structured, site, url) and "byline" not in skip and tree is not None:
        people = byline_names(tree, site, url) or people
    if _only_site(people, structured, site, url) and "bodyline" not in skip:
        people = body_byline(body, site, url) or people
    organizations = split_authors("; ".join(structured.organizations), None, "")
    if _only_site(people, structured, site, url):
        return organizations or people
    publisher = _norm(structured.publisher)
    return tuple(name for name in people if _norm(name) != publisher) or people


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _only_site(
    people: tuple[str, ...], structured: StructuredData, site: str | None, url: str
) -> bool:
    """Whether ``people`` names no one but the site or its publisher."""
    return all(_is_publisher(name, structured, site, url) for name in people)


def _is_publisher(name: str, structured: StructuredData, site: str | None, url: str) -> bool:
    return is_site_name(name, site, url) or _norm(name) == _norm(structured.publisher)


def _names_site(byline: str | None, site: str | None, url: str) -> bool:
    """Whether ``byline`` is a comma-separated list with the site's name as one part."""
    parts = [p.strip() for p in (byline or "").split(",")]
    if len(parts) < 2:
        return False
    return any(part and is_site_name(part, site, url) for part in parts)


def _people(names: tuple[str, ...], places: bool) -> tuple[str, ...]:
    """``names`` without its one-word ones when the byline also named the site (``places``)."""
    return tuple(name for name in names if len(name.split()) > 1) if places else names
