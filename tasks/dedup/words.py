"""The one text normalisation for comparing texts: exact dedup (the content hash), near-dup
(MinHash shingles) and boilerplate line keys all see a text as its ``comparable_words``."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+")


def comparable_words(text: str) -> list[str]:
    """The text's words as compared: NFKC-normalised, case-folded, punctuation and spacing
    ignored (a run of ideographs between punctuation is one word)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
