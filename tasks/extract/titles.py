"""The headline without the site's name or a section label, checked against the page's other
statements of its headline (``<h1>``, ``og:title``, ``twitter:title``, ``<title>``, JSON-LD).

A title part is dropped when it names the site (``og:site_name``, the JSON-LD publisher, the
host's words: :func:`tasks.extract.metadata.clean_title`), or when what is left is another of the
page's headlines word for word and the dropped part is short (a label: "National",
"Vierschanzentournee", "정치ㅣ한국일보") or sits behind a bar.
"""

from __future__ import annotations

import re

from tasks.extract.metadata import clean_title, names_site

# A separator between title parts: " | ", " - ", " :: ", fullwidth ones, and the Korean "ㅣ"
# (a Hangul letter used as a bar: "...-정치ㅣ한국일보").
_SEPARATOR = re.compile(r"\s+[|\-–—·:/*]{1,2}\s+|\s*[｜：ㅣ]\s*|-(?=[^\s-]+ㅣ)")
LABEL_WORDS = 3  # a part this short beside another headline is a label; a longer one a kicker
_BAR = re.compile(r"\s*[|｜]\s*")  # a site name before it is a prefix ("NEWS WEB EASY|...")
PREFIX_WORDS = 4  # a longer part before the bar is not a site name
_BY = re.compile(r"\s+[|\-–—·*]\s+by\s+[^|\-–—·*]+$", re.IGNORECASE)  # "... | by Jane Doe"


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _site(
    title: str, site: str | None, url: str, names: tuple[str, ...], prefix: bool = True
) -> str:
    for name in (site, *names):
        title = clean_title(title, name, url) or title
        bar = _BAR.search(title) if prefix else None
        head = title[: bar.start()] if bar else ""
        if bar and head and len(head.split()) <= PREFIX_WORDS and names_site(head, name, url):
            title = title[bar.end() :].strip() or title
    return title


def strip_affix(title: str, others: tuple[str, ...], site: str | None, url: str) -> str:
    """``title`` without a label before or after it when the rest is one of ``others``."""
    known = {_norm(o) for o in others} | {_norm(clean_title(o, site, url)) for o in others}
    known.discard(_norm(title))
    if not known:
        return title
    for part in _SEPARATOR.finditer(title):
        head, tail = title[: part.start()].strip(), title[part.end() :].strip()
        for keep, rest in ((head, tail), (tail, head)):
            if (
                keep
                and _norm(keep) in known
                and (len(rest.split()) <= LABEL_WORDS or "|" in part.group())
            ):
                return keep
    return title


def choose_title(
    title: str | None,
    others: tuple[str, ...],
    site: str | None,
    url: str,
    names: tuple[str, ...] = (),
    prefix: bool = True,
) -> str | None:
    """The headline: ``title`` (the JSON-LD ``headline``, else trafilatura's title) without a
    trailing "by Author" and the site's name (``site``, ``names``: the publisher's), then without
    a label when the rest is one of the page's ``others`` headlines."""
    if not title:
        return None
    title = _site(_BY.sub("", " ".join(title.split())), site, url, names, prefix)
    return strip_affix(title, others, site, url) if others else title
