"""The web-search style query of ``newsflow search``, read once for every index: words (all must
match), ``"a phrase"``, ``or`` between alternatives, ``-word`` to exclude. Nothing the user types
is ever passed on as FTS5 or tsquery syntax."""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage import cjk

_CHUNK = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a phrase (its words, punctuation dropped); ``negated``: must not occur."""

    words: tuple[str, ...]
    negated: bool

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def quoted(self) -> str:
        """As one FTS5 phrase (quoted, so never read as FTS5 syntax)."""
        return '"' + self.text + '"'


Group = tuple[Term, ...]  # all must hold; a query is an OR of groups


def groups(query: str) -> list[Group]:
    """The query's alternatives, each with at least one positive term (FTS5 cannot express
    "everything except": a group of only excluded terms is dropped), duplicates removed."""
    found: list[list[Term]] = [[]]
    for match in _CHUNK.finditer(query):
        negated, phrase, bare = bool(match[1]), match[2], match[3]
        if bare is not None and bare.lower() == "or" and not negated:
            found.append([])
            continue
        words = _WORD.findall(phrase if phrase is not None else bare)
        if words:
            found[-1].append(Term(tuple(words), negated))
    kept = (tuple(g) for g in found if any(not t.negated for t in g))
    return list(dict.fromkeys(kept))


def fts5_query(query: str) -> str | None:
    """The query as an FTS5 expression of quoted terms, or ``None`` when it has no words."""
    parts = []
    for group in groups(query):
        positive = [t.quoted for t in group if not t.negated]
        parts.append(" ".join(positive + [f"NOT {t.quoted}" for t in group if t.negated]))
    return " OR ".join(f"({p})" for p in parts) if parts else None


def pg_websearch(query: str) -> str:
    """The query for ``websearch_to_tsquery``, with every term that holds CJK characters written
    as the phrase of its bigrams (as ``newsflow_search_text()`` writes the articles)."""
    out = []
    for match in _CHUNK.finditer(query):
        negated, phrase, bare = match[1], match[2], match[3]
        words = _WORD.findall(phrase if phrase is not None else bare)
        out.append(negated + cjk.pg_phrase(words) if cjk.has_cjk(" ".join(words)) else match[0])
    return " ".join(out)


def positive_terms(query: str) -> list[str]:
    """The texts of the terms a hit holds, for marking snippets."""
    return list(dict.fromkeys(t.text for g in groups(query) for t in g if not t.negated))
