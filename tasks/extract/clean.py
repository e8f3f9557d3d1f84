"""Cleaning extracted text: unsafe characters out (H8), then generic boilerplate lines out of the
body. Every rule here is generic (no site names); each one earned its place on the
extraction-dev benchmark (bench/extraction.py)."""

from __future__ import annotations

import re
import unicodedata

from tasks.extract.safetext import strip_unsafe

# Invisible word-break hints (soft hyphen, zero-width space, word joiner, BOM): they change no
# rendered letter but split a word for search and hashing ("Bundes\u00adregierung"). Joiners
# (ZWJ, ZWNJ), variation selectors and bidi marks change what is shown, so they stay.
_HINTS = re.compile("[\u00ad\u200b\u2060\ufeff]")

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_WORD = re.compile(r"\w+")
# Whole lines that are page furniture, not article text (compared case-insensitively).
_NOISE = re.compile(
    r"^(?:advertisement|anzeige|werbung|publicidad|publicité|passer la publicité|pubblicità"
    r"|share(?: this(?: with| article)?)?|follow us\b.*|read more|reader comments|comments"
    r"|lesen sie auch\b.*|mehr zum thema:?|auch interessant|ähnliche artikel|noticia relacionada"
    r"|czytaj (?:więcej|też|także)\b.*|suscr[ií]bete|more ?:.*|related(?: articles| stories)?:?"
    r"|mit agenturmaterial\.?"
    r"|\d+ min(?:uten|utes)?\.? (?:lesezeit|read(?:ing time)?))$",
    re.IGNORECASE,
)
# Photo credit lines: "Foto: ...", "Name/AFP via Getty Images".
_CREDIT = re.compile(
    r"^(?:(?:foto|photo|bild|image|picture|credit|quelle|source)s?\s*:.*"
    r"|.{0,60}(?:/|via |© ?)(?:getty images|afp|reuters|ap|dpa|epa|imago|shutterstock)[^.]{0,30})$",
    re.IGNORECASE,
)
# Comment-box rules, outdated-browser and session-timeout notices, "Read next:" and newsletter
# prompts, anywhere in a line.
_WIDGET = re.compile(
    r"\bcomment(?:s|ing)?\b.*\b(?:civil|respectful|policy|guidelines|display name|moderat\w*)\b"
    r"|\b(?:up[- ]to[- ]date|supported|newer) browser\b|^read next\b|^(?:also )?read:"
    r"|\bsign up for (?:our|the) newsletter\b|\bnewsletter abonnieren\b"
    r"|\bsession (?:has )?(?:timed out|expired)\b|\bremain logged\b|\btimeout: \d+ seconds?\b",
    re.IGNORECASE,
)
# Calls to action and credits around the article, anywhere in a short line: newsletter and
# "in your inbox" sign-ups, affiliate-commission disclosures, "Read more:"/"Click here" links,
# copyright notices, "more to follow" on breaking stories, wire-service credit lines, donation
# appeals, and the "57% of this article left to read" paywall notice.
_PROMO = re.compile(
    r"\bnewsletter\b|\bin your inbox\b|\bearn (?:us )?an? (?:\w+ )?commission\b|^read more:"
    r"|^click here\b|^copyright ©|\bmore to follow\b|^our standards:|\babonniere den\b"
    r"|^reporting by .*\b(?:editing|writing) by\b"
    r"|\b(?:spende|donation|donate)\b.{0,60}\b(?:unterstützen|support)\b"
    r"|\b(?:unterstützen sie uns|support us)\b.{0,60}\b(?:spende|donation|donate)"
    r"|\b(?:il vous reste|you have) \d+(?:[.,]\d+)? ?% (?:de cet article|of this article)",
    re.IGNORECASE,
)
# A byline on its own line: "By/Von/Par ..." and up to five capitalized name words.
_BYLINE = re.compile(
    r"^(?i:von|by|par|por|door|av|af)\s+[A-ZÀ-ÝÆØÅ]\S*"
    r"(?:,?\s+(?:(?i:und|and|og|y|et|e)\s+)?[A-ZÀ-ÝÆØÅ]\S*){0,4}$"
)
# A call to action with an e-mail address ("Got a story? Email webnews@...").
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
NOTICE_WORDS = 40  # e-mail and call-to-action lines longer than this are taken for article text
# A line ending like a sentence (or a quote, or a lead-in to one).
_SENTENCE_END = re.compile(r"[.!?:;\"”“»«)\]…。！？」।]$")
TEASER_WORDS = 15  # a "- " list item shorter than this without a sentence end is a link teaser
TAIL_WORDS = 6  # short unpunctuated lines at the very end are bylines, tags and buttons
LABEL_CHARS = 12  # ... and at most this many characters per word (a CJK sentence is one "word")
LEAD_WORDS = 2  # ... and at the very start, section labels ("World", "Politik")
LEAD_LINES = 4  # how far into the body the headline may be echoed
TITLE_OVERLAP = 0.6  # share of the shorter one's words a line must share with the headline


def sanitize(text: str) -> str:
    """NFC; the characters no stored text keeps (``tasks/extract/safetext.py``: NUL, controls, lone
    surrogates, non-characters) and word-break hints removed; runs of spaces collapsed; blank
    lines squeezed to one."""
    text = unicodedata.normalize("NFC", _HINTS.sub("", strip_unsafe(text)))
    out: list[str] = []
    for line in text.splitlines():
        line = _SPACES.sub(" ", line).strip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _key(line: str) -> str:
    return " ".join(_WORD.findall(line.casefold()))


def drop_repeats(lines: list[str]) -> list[str]:
    """Lines whose words repeat an earlier line's (a caption printed twice, a widget per photo)."""
    seen: set[str] = set()
    out = []
    for line in lines:
        key = _key(line)
        if key and key in seen:
            continue
        seen.add(key)
        out.append(line)
    return out


# The cleaning rules by name: bench/extraction.py switches each off in turn and keeps one only
# when it helps on more held-out publishers than it hurts (leave-one-publisher-out).
LINE_RULES = ("noise", "credit", "widget", "byline", "email", "promo", "teaser")
BODY_RULES = ("repeats", *LINE_RULES, "lead", "tail")
Skip = frozenset[str]


def furniture_rule(line: str, skip: Skip = frozenset()) -> str | None:
    """The name of the rule that takes a line for page furniture (a widget label, a photo credit,
    a byline, a call to action, a link-teaser bullet), or None."""
    line = line.strip()
    words = len(line.split())
    short = words <= NOTICE_WORDS
    checks = (
        ("noise", lambda: _NOISE.match(line)),
        ("credit", lambda: _CREDIT.match(line)),
        ("widget", lambda: short and _WIDGET.search(line)),
        ("byline", lambda: _BYLINE.match(line)),
        ("email", lambda: short and _EMAIL.search(line)),
        ("promo", lambda: short and _PROMO.search(line)),
        ("teaser", lambda: line.startswith("- ") and words < TEASER_WORDS
         and not _SENTENCE_END.search(line)),
    )  # fmt: skip
    return next((name for name, check in checks if name not in skip and check()), None)


def is_furniture(line: str, skip: Skip = frozenset()) -> bool:
    """Whether any (not skipped) furniture rule takes the line."""
    return furniture_rule(line, skip) is not None


def echoes_title(line: str, title: str | None) -> bool:
    """Whether a line is the headline again (maybe with a kicker or a site suffix): it shares most
    words with the title and does not end like a sentence of the lead (with a full stop)."""
    words, headline = (
        set(_WORD.findall(line.casefold())),
        set(_WORD.findall((title or "").casefold())),
    )
    if (
        not words
        or not headline
        or len(words) > 2 * len(headline) + 5
        or line.endswith((".", "।", "。"))
    ):
        return False
    return len(words & headline) / min(len(words), len(headline)) >= TITLE_OVERLAP


def _is_label(line: str, max_words: int) -> bool:
    """A short line without a sentence end; CJK text has no spaces, so its length counts too."""
    short = len(line.split()) <= max_words and len(line) <= LABEL_CHARS * max_words
    return short and not _SENTENCE_END.search(line)


def _trim_lead(lines: list[str], title: str | None) -> list[str]:
    """Leading blank lines, one- or two-word section labels and the headline echoed, dropped."""
    start = 0
    for line in lines[:LEAD_LINES]:
        if not line or _is_label(line, LEAD_WORDS) or echoes_title(line, title):
            start += 1
            continue
        break
    return lines[start:]


def clean_body(text: str, title: str | None = None, skip: Skip = frozenset()) -> str:
    """The body without the headline, repeated lines, furniture lines and trailing labels (the
    rules named in ``skip`` left out)."""
    lines = sanitize(text).split("\n")
    if "repeats" not in skip:
        lines = drop_repeats(lines)
    lines = [line for line in lines if not is_furniture(line, skip)]
    if "lead" not in skip:
        lines = _trim_lead(lines, title)
    while "tail" not in skip and lines and _is_label(lines[-1], TAIL_WORDS):
        lines.pop()
    return sanitize("\n".join(lines))
