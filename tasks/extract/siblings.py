"""Paragraphs of an article split into sibling blocks, restored.

Pages often cut the body into several blocks with the same markup (one per chunk between ads, a
"continue reading" split, a lead block and a body block), and trafilatura keeps one of them. A
paragraph the extraction left out is put back when it sits in the same markup as paragraphs it
kept (same tag and class on itself and its nearest ancestors), is a real paragraph (long, ending
like a sentence), and has a sibling paragraph that qualifies too (a one-paragraph block in the
same markup is a teaser card). Generic: no site names, only the page's own structure.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import lxml.html
from lxml import etree

MIN_CHARS = 80  # a paragraph shorter than this (normalized) is neither matched nor restored
DEPTH = 3  # ancestors whose tag and class must match
GROUP = 2  # qualifying paragraphs a block needs before any of them is restored
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?\"”“»«)…。！？」]$")
Signature = tuple[tuple[str, str], ...]
_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _signature(element: Any) -> Signature:
    chain = [element, *list(element.iterancestors())[:DEPTH]]
    return tuple((str(e.tag), e.get("class") or "") for e in chain)


def _paragraphs(page: str | Any) -> list[tuple[Any, str, str]]:
    """The ``<p>`` elements of the page (HTML text, or its parsed tree, which is only read) in
    document order: (element, text, normalized text)."""
    if page is None:
        return []
    if isinstance(page, str):
        try:
            tree = lxml.html.fromstring(page.encode("utf-8"), parser=_PARSER)
        except (etree.ParserError, ValueError):
            return []
    else:
        tree = page
    out = []
    for element in tree.iter("p"):
        text = " ".join(element.text_content().split())
        out.append((element, text, _norm(text)))
    return out


def restore(page: str | Any, text: str, raw: str) -> str:
    """``text`` (the cleaned body) with the paragraphs of sibling blocks trafilatura left out put
    back in document order; ``page`` is the page's HTML text or its parsed lxml tree (read, not
    changed), ``raw`` the body before cleaning (what cleaning dropped is not restored). Unchanged
    when there is nothing to restore."""
    lines = text.split("\n")
    line_of = {key: i for i, line in enumerate(lines) if len(key := _norm(line)) >= MIN_CHARS}
    paragraphs = _paragraphs(page) if line_of else []
    order: dict[int, int] = {}  # line index -> paragraph index
    kept: set[Signature] = set()
    for index, (element, _, key) in enumerate(paragraphs):
        if key in line_of:
            order[line_of[key]] = index
            kept.add(_signature(element))
    seen = _norm(raw) + " " + _norm(text)
    missing = [
        (index, element, body)
        for index, (element, body, key) in enumerate(paragraphs)
        if len(key) >= MIN_CHARS and key not in line_of and _SENTENCE_END.search(body)
        and _signature(element) in kept and key not in seen
    ]  # fmt: skip
    blocks = Counter(element.getparent() for _, element, _ in missing)
    restored = [(i, body) for i, element, body in missing if blocks[element.getparent()] >= GROUP]
    if not restored:
        return text
    items, last = [], -1
    for i, line in enumerate(lines):  # a line without a paragraph follows the one before it
        last = order.get(i, last)
        items.append((last, 1, i, line))
    items += [(index, 0, -1, body) for index, body in restored]
    return "\n".join(line for *_, line in sorted(items, key=lambda item: item[:3]))
