"""Access: whether the page says its article is free to read, and whether the body we got is only
the teaser a paywall lets through (a stub), as flags analysts can filter on."""

from __future__ import annotations

import re

STUB_WORDS = 150  # a body of a page that says it is not free, under this length, is a teaser
NOTICE_WORDS = 400  # ... and so is one under this length that kept a paywall notice
_PAYWALL = re.compile(
    r"\b(?:subscribe to (?:continue|read)|already a subscriber|sign in to continue"
    r"|to continue reading|réservée aux abonnés|jetzt abonnieren|weiterlesen mit"
    r"|exklusiv für abonnenten|(?:il vous reste|you have) \d+(?:[.,]\d+)? ?% "
    r"(?:de cet article|of this article))",
    re.IGNORECASE,
)


def paywall_teaser(accessible_for_free: bool | None, raw: str, words: int) -> bool:
    """Whether a body of ``words`` words is a paywall's teaser: the page's structured data says
    it is not free and the body is a stub, or trafilatura's text (``raw``, before cleaning drops
    such lines) holds a paywall notice and the body is short."""
    if accessible_for_free is False and words < STUB_WORDS:
        return True
    return words < NOTICE_WORDS and _PAYWALL.search(raw) is not None
