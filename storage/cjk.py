"""Chinese, Japanese and Korean text for full-text search (migration 0015).

Those scripts write words without spaces, so a word index that splits on spaces and punctuation
holds a whole clause as one word (``北京市今天举行新闻发布会``) and finds none of its words. Both
dialects decide by script, not by the article's language: any article whose title or text holds a
CJK character (Han, kana, Hangul) is indexed the CJK way too.

- PostgreSQL: ``newsflow_search_text()`` (migration 0015) writes every run of CJK characters as
  its overlapping bigrams, each followed by the run's last character alone (``北京市`` ->
  ``北京 京市 市``), before the text is parsed into ``articles.search_vector``; a query is written
  the same way (:func:`pg_websearch`), a word of one character becomes a prefix (``'京':*``).
- SQLite: the FTS5 ``trigram`` index ``articles_cjk`` holds those articles (any substring of three
  characters or more); shorter terms are looked for in the text itself (``instr``) among the rows
  of the partial index ``ix_articles_cjk``.

Snippets of hits that the database cannot mark (a CJK term in a text whose words it does not
split) are cut here from the text (:func:`marked_snippet`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Code point ranges: Hangul Jamo, CJK radicals, 々〆〇, kana, Hangul compatibility Jamo, kana
# extension, Han (extension A, unified, compatibility), Hangul syllables, half-width katakana, Han
# in the supplementary planes. Migration 0015 holds the same ranges (a test compares them).
RANGES = (
    (0x1100, 0x11FF),
    (0x2E80, 0x2FDF),
    (0x3005, 0x3007),
    (0x3040, 0x30FF),
    (0x3130, 0x318F),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
    (0x20000, 0x2FA1F),
)
MIN_TRIGRAM = 3  # FTS5's trigram index cannot match a shorter term (SQLite < 3.47)
SNIPPET_CHARS = 80

_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in RANGES)
_CJK = re.compile(f"[{_CLASS}]")
_RUNS = re.compile(f"[{_CLASS}]+|[^{_CLASS}]+")
_ONE = re.compile(f"'([{_CLASS}])'(?!:)")  # a one-character lexeme in tsquery text
SQLITE_PATTERN = f"*[{_CLASS}]*"  # GLOB: holds a CJK character


def has_cjk(value: str) -> bool:
    return _CJK.search(value) is not None


def sqlite_cjk_row(prefix: str = "") -> str:
    """The SQL condition "this articles row is in the CJK index" (the triggers' and the partial
    index's): it must be written exactly so for SQLite to use ``ix_articles_cjk``."""
    return f"({prefix}title GLOB '{SQLITE_PATTERN}' OR {prefix}text GLOB '{SQLITE_PATTERN}')"


def bigrams(value: str, *, last: bool = True) -> list[str]:
    """``value``'s pieces as PostgreSQL's ``newsflow_search_text()`` writes them: every CJK run as
    its bigrams and its last character, other text as it is. ``last=False`` drops the final
    run's lone last character (a query must not require the run to end there)."""
    pieces: list[str] = []
    for run in _RUNS.findall(value):
        if not _CJK.match(run):
            pieces.append(run)
            continue
        pieces.extend(run[i : i + 2] for i in range(len(run)))
    if not last and len(pieces) > 1 and _CJK.fullmatch(pieces[-1]) and _CJK.match(pieces[-2]):
        pieces.pop()
    return pieces


def pg_phrase(words: Sequence[str]) -> str:
    """A term with CJK characters as a websearch phrase of its bigrams (``北京市`` ->
    ``"北京 京市"``): the article must hold them in this order."""
    return '"' + " ".join(bigrams(" ".join(words), last=False)) + '"'


def prefix_single(tsquery: str) -> str:
    """tsquery text with each one-character CJK lexeme as a prefix (``'京'`` -> ``'京':*``), which
    finds the character at the start of a bigram or alone."""
    return _ONE.sub(r"'\1':*", tsquery)


def marked_snippet(text: str, terms: Sequence[str], start: str, end: str) -> str:
    """About ``SNIPPET_CHARS`` of ``text`` around the first place a term occurs (case ignored),
    each occurrence between ``start`` and ``end``; the text's beginning when none occurs."""
    if not terms:
        return text[:SNIPPET_CHARS]
    spelled = sorted({t for t in terms if t}, key=len, reverse=True)
    pattern = re.compile("|".join(r"\s+".join(map(re.escape, t.split())) for t in spelled), re.I)
    first = pattern.search(text)
    if first is None:
        return text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else "")
    left = max(0, first.start() - SNIPPET_CHARS // 4)
    right = min(len(text), left + SNIPPET_CHARS)
    out, at = [], left
    for match in pattern.finditer(text, left, right):
        out += [text[at : match.start()], start, match[0], end]
        at = match.end()
    right = max(right, at)
    out.append(text[at:right])
    return ("…" if left else "") + "".join(out) + ("…" if right < len(text) else "")
