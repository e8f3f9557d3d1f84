"""The headline without the site's name: a trailing "by Author", the site's name as a suffix
(``og:site_name``, the JSON-LD publisher, the host's words:
:func:`tasks.extract.metadata.clean_title`) and, before a bar, as a prefix ("NEWS WEB EASY|...").

Not done (bench/extraction.py judged it): dropping a short label when what is left is another
headline of the page ("... | Sport" beside an ``og:title`` without it). It helped one fundus
publisher and hurt one (whose expected titles keep "- Güncel haberler"), and changed nothing on
the web pages, so by the protocol's rule it does not count.
"""

from __future__ import annotations

import re

from tasks.extract.metadata import clean_title, names_site

_BAR = re.compile(r"\s*[|｜]\s*")  # a site name before it is a prefix ("NEWS WEB EASY|...")
PREFIX_WORDS = 4  # a longer part before the bar is not a site name
_BY = re.compile(r"\s+[|\-–—·*]\s+by\s+[^|\-–—·*]+$", re.IGNORECASE)  # "... | by Jane Doe"


def _site(title: str, site: str | None, url: str, names: tuple[str, ...], prefix: bool) -> str:
    for name in (site, *names):
        title = clean_title(title, name, url) or title
        bar = _BAR.search(title) if prefix else None
        head = title[: bar.start()] if bar else ""
        if bar and head and len(head.split()) <= PREFIX_WORDS and names_site(head, name, url):
            title = title[bar.end() :].strip() or title
    return title


def choose_title(
    title: str | None,
    site: str | None,
    url: str,
    names: tuple[str, ...] = (),
    prefix: bool = True,
) -> str | None:
    """``title`` (the JSON-LD ``headline``, else trafilatura's title) without a trailing
    "by Author" and the site's name (``site``, ``names``: the publisher's; with ``prefix`` also
    before a bar: "NEWS WEB EASY|...")."""
    if not title:
        return None
    return _site(_BY.sub("", " ".join(title.split())), site, url, names, prefix)
