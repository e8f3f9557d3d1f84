"""Authors read from the page's byline elements, for pages whose metadata names only the site
(``<meta name="author" content="Deutsche Welle">``) or no one.

A byline element is one marked as such (``rel="author"``, ``itemprop="author"``, a class naming
an author or a byline) or a link to an author page (``/autor/``, ``/author/``, ``/autoren/``).
Its short text is split like any byline (:func:`tasks.extract.metadata.split_authors`); what is
kept must look like a person's name: two to five words of letters, none of them the site's name.
Only the first element with text counts (a page's later author elements are teasers of other
articles).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from tasks.extract.metadata import is_site_name, site_words, split_authors

MAX_CHARS = 120  # a longer element is an author box or a teaser, not a byline
MAX_ELEMENTS = 12  # byline elements looked at, in document order
_NAME_WORD = re.compile(r"^[^\W\d_][\w.'’-]*$")
# Words that make a short capitalized line something else than a name: role and desk words
# ("Unsere Autorinnen"), share buttons ("Twitter Facebook"), blog and site words.
_NOT_A_NAME = re.compile(
    r"^(?:autor\w*|author\w*|redaktion\w*|editor\w*|staff|team|unsere?|our|twitter|facebook"
    r"|instagram|linkedin|whatsapp|e-?mail|share|teilen|blog|news|online|media|watch\S*)$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
_FILLER = frozenset({"und", "and", "et", "y"})
BODY_LINES = 3  # a byline paragraph is looked for among the body's first lines and its last
_NAMES_SPLIT = re.compile(r"\s*/\s*|\s+(?:and|und|og|och|et|y|e)\s+|\s*&\s*")


@functools.cache
def _finder() -> Any:
    from lxml import etree

    return etree.XPath(
        "//*[@rel='author' or @itemprop='author' or contains(@class, 'author')"
        " or contains(@class, 'byline') or contains(@class, 'Byline')"
        " or (self::a and (contains(@href, '/autor') or contains(@href, '/author/')))]"
    )


def looks_like_person(name: str, sites: set[str]) -> bool:
    """Two to five words of letters (initials allowed), the first not a word of the site's
    name ("MDR THÜRINGEN" on mdr.de is a desk)."""
    words = name.split()
    if not 2 <= len(words) <= 5 or not all(_NAME_WORD.match(w) for w in words):
        return False
    if any(_NOT_A_NAME.match(w) for w in words):
        return False
    return not any(_plain(w) in sites for w in words[:1])


def _plain(word: str) -> str:
    return "".join(ch for ch in word.casefold() if ch.isalnum())


def byline_names(tree: Any, site: str | None, url: str) -> tuple[str, ...]:
    """The person names of the page's first byline element with text, or ()."""
    sites = site_words(site, url)
    for element in _finder()(tree)[:MAX_ELEMENTS]:
        text = " ".join(element.text_content().split())
        if not text or all(_NOT_A_NAME.match(w) or w in _FILLER for w in _WORDS.findall(text)):
            continue  # empty, or a link to the list of authors ("Autoren")
        if len(text) > MAX_CHARS:
            return ()
        return tuple(n for n in split_authors(text, site, url) if looks_like_person(n, sites))
    return ()


def body_byline(text: str, site: str | None, url: str) -> tuple[str, ...]:
    """The names of a byline standing as a paragraph of its own among the body's first
    :data:`BODY_LINES` lines or as its last line ("Mathatisi Sebusi/Mohalenyane Phakela"):
    every part a person's name with every word capitalized."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sites = site_words(site, url)
    for line in (*lines[:BODY_LINES], *lines[-1:]):
        if len(line) > MAX_CHARS:
            continue
        parts = [p for p in _NAMES_SPLIT.split(line) if p]
        if parts and all(_capitalized_name(p, site, url, sites) for p in parts):
            return tuple(parts)
    return ()


def _capitalized_name(part: str, site: str | None, url: str, sites: set[str]) -> bool:
    names = split_authors(part, site, url)
    return (
        names == (part,)
        and looks_like_person(part, sites)
        and not is_site_name(part, site, url)
        and all(word[0].isupper() for word in part.split())
    )
