"""URL canonicalization: one spelling per article URL, so "already stored?" is a key lookup."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import idna

from tasks.records import EntrySkip

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "igshid",
        "ocid",
        "cmpid",
        "ncid",
        "ftag",
        "smid",
        "taid",
        "at_medium",
        "at_campaign",
        "ref",
        "referrer",
        "guccounter",
        "__twitter_impression",
    }
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "oly_", "vero_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Longest URL kept, in UTF-8 bytes: the de facto limit of browsers and sitemaps.org (2,048), well
# under PostgreSQL's btree row limit (about 2,700 bytes), which a unique index on a 6 KB URL hits.
MAX_URL_BYTES = 2048
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))  # NUL, CR, LF, ... in a URL


class SkippedEntry(Exception):
    """An entry of a document that is skipped; ``reason`` says why (counted in the document's
    fetch row ``detail``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def skipped_note(skips: Mapping[str, int]) -> str | None:
    """What a document's skipped entries were, for its fetch row: ``skipped 3 entries
    (invalid_url: 2, url_too_long: 1)``."""
    total = sum(skips.values())
    if not total:
        return None
    reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(skips.items()))
    return f"skipped {total} {'entry' if total == 1 else 'entries'} ({reasons})"


def resolve_link(base: str, link: str) -> str:
    """An entry's link resolved against its document's URL; :class:`SkippedEntry` when it is
    not a URL (``invalid_url``: a broken IPv6 authority, a control character) or too long
    (``url_too_long``)."""
    link = link.strip()
    if len(link.encode("utf-8", "replace")) > MAX_URL_BYTES:
        raise SkippedEntry(EntrySkip.URL_TOO_LONG)
    try:
        absolute = urljoin(base, link) if base else link
        urlsplit(absolute).port  # noqa: B018 - raises on a bad authority or port
    except ValueError:
        raise SkippedEntry(EntrySkip.INVALID_URL) from None
    if _CONTROL.intersection(absolute):
        raise SkippedEntry(EntrySkip.INVALID_URL)
    if len(absolute.encode("utf-8", "replace")) > MAX_URL_BYTES:
        raise SkippedEntry(EntrySkip.URL_TOO_LONG)
    return absolute


def _is_tracking(name: str) -> bool:
    """Ours, plus courlan's tracker rules (credited there to AdGuard, ClearURLs, Firefox)."""
    from courlan.clean import TRACKERS_RE

    lowered = name.lower()
    if lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES):
        return True
    return bool(TRACKERS_RE.search(lowered))


def canonicalize_url(url: str, base: str | None = None) -> str | None:
    """Return the canonical spelling of an http(s) URL, or ``None`` if it is not one.

    Lower-cases scheme and host, drops default ports, userinfo-free hosts only, removes the
    fragment and tracking parameters (``utm_*``, ``fbclid``, ...), sorts the remaining query and
    gives an empty path as ``/``. Meaningful parameters such as ``id=`` are kept. A result over
    ``MAX_URL_BYTES`` is ``None`` too.
    """
    text = (url or "").strip()
    if base:
        text = urljoin(base, text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    try:  # IDNA 2008 with UTS #46 mapping, as requests/urllib3 will send it
        host = idna.encode(host, uts46=True).decode("ascii") if not host.isascii() else host.lower()
    except (idna.IDNAError, UnicodeError):
        return None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    canonical = urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))
    return canonical if len(canonical.encode("utf-8", "replace")) <= MAX_URL_BYTES else None


_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"})


def site_domain(url: str) -> str:
    """The site a URL belongs to, by a heuristic (no public-suffix list): the host's last two
    labels, three under a country's second level (``bbc.co.uk``); an IP address as it is."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""
    if not host or ":" in host or host.replace(".", "").isdigit():
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])
