"""The article body from trafilatura's text: clutter lines cleaned out (:mod:`tasks.clean`), the
paragraphs of sibling blocks restored (:mod:`tasks.siblings`), and guarded so that neither step
does much worse than trafilatura's own text.

Every step is a named rule (:data:`RULES`) that bench/extraction.py switches off in turn: a rule
stays only when it helps on more held-out publishers than it hurts.
"""

from __future__ import annotations

import re
from typing import Any

from tasks.extract import siblings
from tasks.extract.clean import BODY_RULES, Skip, clean_body

RULES = (*BODY_RULES, "siblings", "articles", "guard", "recheck")
GUARD_WORDS = 100  # trafilatura's text must be this long for the guard to judge it
KEEP_SHARE = 0.25  # cleaning that keeps less than this share of trafilatura's words is undone
RECHECK_SHARE = 0.1  # a body that cleaning cut by this share of trafilatura's words is re-checked
SECOND_SHARE = 0.5  # ... and the precise mode's body wins when it is shorter, but not this short
LINE_WORDS = 8  # a line this long is looked up in the page's <article> elements
LEAD_WORDS = 100  # the next story is cut off only after this much of the first one
_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _stories(tree: Any) -> list[str]:
    """The normalized texts of the page's outermost ``<article>`` elements, in document order."""
    if tree is None:
        return []
    outer = [a for a in tree.iter("article") if next(a.iterancestors("article"), None) is None]
    return [_norm(a.text_content()) for a in outer] if len(outer) > 1 else []


def one_story(tree: Any, text: str) -> str:
    """``text`` cut where it runs into the next story: pages that load the next article below
    (infinite scroll) hold each story in an outermost ``<article>``; when trafilatura's body runs
    from the first story's element into a later one's, the lines from the later one on go."""
    stories = _stories(tree)
    if not stories:
        return text
    lines, first, words = text.split("\n"), None, 0
    for index, line in enumerate(lines):
        key = _norm(line)
        home = next((i for i, story in enumerate(stories) if key in story), None)
        if len(key.split()) >= LINE_WORDS and home is not None:
            if first is None:
                first = home
            elif home > first and words >= LEAD_WORDS:
                return "\n".join(lines[:index]).strip()
        words += len(key.split())
    return text


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def guarded(raw: str, cleaned: str) -> str:
    """``cleaned``, unless it lost most of trafilatura's text (``raw``): then only the repeated
    lines are dropped. Cleaning removes lines of furniture, a few per page; when it removes most
    of a body the body is made of lines that look like furniture (a table layout, a list story),
    and the evidence that they are clutter is weak."""
    if _words(raw) < GUARD_WORDS or _words(cleaned) >= KEEP_SHARE * _words(raw):
        return cleaned
    return clean_body(raw, None, frozenset(RULES) - {"repeats"})


def body_text(tree: Any, raw: str, title: str | None, skip: Skip = frozenset()) -> str:
    """The cleaned body of a page: ``raw`` is trafilatura's text (sanitized), ``tree`` the parsed
    page (read only), ``title`` the headline (its echo at the top is dropped); the rules named in
    ``skip`` are left out."""
    cleaned = clean_body(raw, title, skip)
    if "guard" not in skip:
        cleaned = guarded(raw, cleaned)
    if "articles" not in skip:
        cleaned = one_story(tree, cleaned)
    if "siblings" in skip:
        return cleaned
    restored = siblings.restore(tree, cleaned, raw)
    return cleaned if restored == cleaned else clean_body(restored, title, skip)


def needs_recheck(raw: str, cleaned: str) -> bool:
    """Whether cleaning had to cut much of trafilatura's text: its default mode then took in page
    clutter, and its ``favor_precision`` mode is asked for a second opinion (a few pages in a
    hundred, so the second extraction stays off the hot path)."""
    return _words(cleaned) <= (1 - RECHECK_SHARE) * _words(raw)


def second_opinion(cleaned: str, precise: str) -> str:
    """The precise mode's cleaned body when it is shorter than ours (it left out more clutter)
    but kept at least half of it (it did not lose the article), else ours."""
    ours, theirs = _words(cleaned), _words(precise)
    return precise if SECOND_SHARE * ours <= theirs <= ours and theirs else cleaned
