"""Per-source boilerplate: lines that recur on many distinct stories of one site (call-out boxes,
newsletter prompts, "Reader Comments", a stock caption, a session-timeout notice), learned from the
source's recent pages and stripped before an article is stored or fingerprinted.

One page cannot tell a call-out from the story; many pages can. A line is boilerplate once its
normalized text was seen on at least ``min_pages`` distinct stories and on at least ``min_share``
of the distinct stories in the source's recent window. Stories, not pages, are counted: copies and
revisions of one story (same canonical URL, same text, near-duplicates) repeat all of its lines,
and must not teach them. A line of the story itself never recurs across distinct stories.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tasks.dedup.words import comparable_words
from tasks.records import PageLines, PageResult

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Rule:
    """When a recurring line counts as boilerplate, and how many recent pages are remembered."""

    min_pages: int = 3  # distinct stories a line must appear on
    min_share: float = 0.05  # ... and this share of the distinct stories in the window
    window: int = 200  # recent stored articles per source whose lines are remembered


def normalize(line: str) -> str:
    """A line as compared: its words, case-folded, punctuation and spacing ignored."""
    return " ".join(comparable_words(line))


def line_key(line: str) -> str | None:
    """The 32-hex-digit key of a line's normalized text (``None`` for a line without words)."""
    words = normalize(line)
    if not words:
        return None
    return hashlib.blake2b(words.encode("utf-8"), digest_size=16).hexdigest()


def line_texts(text: str) -> dict[str, str]:
    """Each distinct line of ``text`` by key, in order (the first spelling wins)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key = line_key(line)
        if key is not None and key not in out:
            out[key] = line.strip()
    return out


def line_keys(text: str) -> tuple[str, ...]:
    """The keys of the distinct lines of ``text``, in order."""
    return tuple(line_texts(text))


def strip(text: str, learned: Collection[str]) -> str:
    """``text`` without its lines whose key is in ``learned``; blank runs squeezed again."""
    if not learned:
        return text
    out: list[str] = []
    for line in text.splitlines():
        if line_key(line) in learned:
            continue
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip()


def threshold(stories: int, rule: Rule) -> int:
    """How many distinct stories a line needs when the window holds ``stories``."""
    return max(rule.min_pages, math.ceil(rule.min_share * stories))


def recurring(counts: Mapping[str, int], stories: int, rule: Rule) -> set[str]:
    """The keys seen on enough distinct stories (``counts``: key -> distinct stories)."""
    needed = threshold(stories, rule)
    return {key for key, seen in counts.items() if seen >= needed}


def observe(pages: Sequence[PageResult]) -> list[PageLines]:
    """What learning needs from a stored batch: per extracted page, its canonical URL (which the
    store resolves to the article and its story), the keys of its lines before stripping, and the
    text of the lines still in its stored text (already-learned lines need none)."""
    seen = []
    for page in pages:
        article = page.article
        if article is None or not article.line_keys:
            continue
        texts = line_texts(article.text)
        seen.append(
            PageLines(
                url=article.canonical_url,
                keys=article.line_keys,
                texts=tuple((k, t[:2000]) for k, t in texts.items()),
            )
        )
    return seen


def stories(texts: Sequence[str], near: float = 0.5) -> list[int]:
    """A story number per text: texts whose MinHash similarity reaches ``near`` share one."""
    from tasks.dedup.dedup import signature, similarity  # numpy: only when learning in memory

    sigs = [signature(text) for text in texts]
    story: list[int] = []
    for i, sig in enumerate(sigs):
        match = next((story[j] for j in range(i) if similarity(sig, sigs[j]) >= near), None)
        story.append(i if match is None else match)
    return story


def learn(texts: Sequence[str], rule: Rule = Rule()) -> dict[str, str]:
    """The boilerplate of one source's pages (in memory): key -> line text. Near-duplicate
    texts count as one story."""
    counts: dict[str, set[int]] = {}
    spelled: dict[str, str] = {}
    groups = stories(texts)
    for text, group in zip(texts, groups, strict=True):
        for key, line in line_texts(text).items():
            counts.setdefault(key, set()).add(group)
            spelled.setdefault(key, line)
    found = recurring({k: len(v) for k, v in counts.items()}, len(set(groups)), rule)
    return {key: spelled[key] for key in counts if key in found}
