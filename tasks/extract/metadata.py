"""Article metadata normalization: titles without the site's suffix, clean author lists, publish
and modified times in UTC with their source, and the body's language."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—·:]{1,2}\s+|\s*[｜：]\s*")
_DATE_ONLY = re.compile(r"^[\d./\- ]{6,12}$")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||/| and | und | og | och | & |,\s*(?=[A-ZÀ-ÖØ-Þ]))\s*")
_BYLINE = re.compile(r"^(?:by|von|par|por|door|di|de|autor(?:in)?|author|text)\b[:\s]*", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
# A one-word label before "von"/"by" ("Capital Von Jemima Kelly": the magazine, then the name);
# not a particle inside a name ("Ursula von der Leyen" has no second word after "von").
_LABEL_BY = re.compile(
    r"^\S+\s+(?:von|by|par|por)\s+(?!(?:der|den|dem|des|zu|la|le|de)\b)(?=\S+\s+\S)", re.I
)
_NOT_A_PERSON = re.compile(
    r"^(?:staff(?: writer| reporter)?|red|redaktion|editorial|newsroom|admin|editor|agenturen?"
    r"|journalist|reporter|correspondent|photographer|redakteur(?:in)?|korrespondent(?:in)?)$"
    r"|\b(?:gmbh|inc|ltd|llc|verlag|ag|s\.a\.)\.?$|\bcondé nast\b|https?\b|^www\b|admin$"
    r"|\b(?:staff|wire services?|editor-at-large)\b|^[\W\d_]+$"
    r"|^(?:no author|unknown|anonymous|anonym|none|null)$",
    re.IGNORECASE,
)
# What trails a name in a byline: initials in brackets ("Elena Oberholzer (obe)"), a role
# ("News reporter", Korean "기자" = reporter), a wire agency ("ERIC TUCKER Associated Press").
_NAME_TAIL = re.compile(
    r"\s*\([^)]*\)?$|\s+(?:기자|특파원)(?:\s.*)?$"
    r"|\s+(?:news |senior |chief )?(?:reporter|correspondent|journalist)$",
    re.IGNORECASE,
)
_AGENCY_TAIL = re.compile(
    r"^(\S+(?:\s+\S+)+?)[\s,]+(?:(?:et|and|und|mit|with|y|e)\s+)?"
    r"(?:associated press|reuters|afp|dpa)$",
    re.IGNORECASE,
)  # at least two words before it: "The Associated Press" is the agency itself; "and" goes too
# "Perry Bacon Jr." keeps its full stop (an abbreviation, not the end of a sentence)
_SUFFIX_DOT = re.compile(r"\s(?:jr|sr)\.$", re.IGNORECASE)
MAX_NAME_WORDS = 5  # a longer "name" is a description ("professor of ... at ...")
_URL_DATE = re.compile(
    r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|$|[-_])"
)
_META_TIME = {
    "published": re.compile(
        r"(?:\"datePublished\"\s*:\s*\"|(?:article:published_time|datePublished|pubdate)"
        r"[\"'][^>]*?content=[\"'])([^\"']{10,40})"
    ),
    "modified": re.compile(
        r"(?:\"dateModified\"\s*:\s*\"|(?:article:modified_time|og:updated_time|dateModified)"
        r"[\"'][^>]*?content=[\"'])([^\"']{10,40})"
    ),
}
# Where a match of _META_TIME can start: its key names, found first (a scan for literal words
# is several times faster than trying the whole pattern at every position of a 300 KB page).
_TIME_KEYS = {
    kind: re.compile("|".join(re.escape(k) for k in keys))
    for kind, keys in {
        "published": ("datePublished", "article:published_time", "pubdate"),
        "modified": ("dateModified", "article:modified_time", "og:updated_time"),
    }.items()
}
_CLOCK = re.compile(r"\d[T ]\d\d:\d\d")  # a timestamp with a time of day, not just a date
LANGUAGE_CONFIDENCE = 0.9  # py3langid's normalized probability needed to overrule the page
# pycld2 is sure when it calls its answer reliable and gives the top language at least this share of
# the text; at 70 it was sure on all 514 corpus bodies and agreed with py3langid on every one
# (tests/test_language.py), on their first 250 characters sure on 510 and agreeing on 506.
CLD2_SURE_PERCENT = 70
CLD2_CHARS = 2000  # pycld2 reads this much of the body (~0.2 ms); more never changed an answer
FALLBACK_CHARS = 1000  # py3langid on this much when pycld2 is unsure (~0.9 ms instead of 2.7)
_CLD2_CODES = {"iw": "he", "jw": "jv", "zh-Hant": "zh"}  # pycld2's old codes -> py3langid's


def _plain(text: str) -> str:
    """Lower-case letters and digits only, accents removed: "Seznam Zprávy" -> "seznamzpravy"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def _site_names(site_name: str | None, url: str) -> set[str]:
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    labels = [label for label in host.split(".")[:-1] if len(label) >= 2]
    names = {_plain(label) for label in labels} | {_plain(host)}
    return {name for name in names | {_plain(site_name or "")} if len(name) >= 2}


def site_words(site_name: str | None, url: str) -> set[str]:
    """The site's names (:func:`_site_names`) and each word of its ``og:site_name``."""
    words = {_plain(word) for word in (site_name or "").split()}
    return {w for w in _site_names(site_name, url) | words if len(w) >= 2}


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _is_site(segment: str, sites: set[str]) -> bool:
    """Whether a title segment names the site ("Golem.de", "Börsen-Zeitung" for boersen-zeitung)."""
    forms = {_plain(segment), _plain(segment.casefold().translate(_UMLAUTS))} - {""}
    return any(
        form == s or (len(s) >= 3 and (s in form or form in s)) for form in forms for s in sites
    )


def clean_title(title: str | None, site_name: str | None, url: str) -> str | None:
    """The title without trailing " | Site Name", " - site.de" or date parts."""
    if not title:
        return None
    sites = _site_names(site_name, url)
    for _ in range(3):
        parts = list(_TITLE_SEPARATOR.finditer(title))
        if not parts:
            break
        last = parts[-1]
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        if not head or not (_is_site(tail, sites) or _DATE_ONLY.match(tail)):
            break
        title = head
    return title


def names_site(segment: str, site_name: str | None, url: str) -> bool:
    """Whether a title segment names the site (see :func:`clean_title`)."""
    return _is_site(segment, _site_names(site_name, url))


def is_site_name(name: str, site_name: str | None, url: str) -> bool:
    """Whether an author name is the site's own (its ``og:site_name`` or host name)."""
    return _plain(name) in _site_names(site_name, url)


def split_authors(
    raw: str | None, site_name: str | None = None, url: str = "", labels: bool = True
) -> tuple[str, ...]:
    """Names from an author string: split, "By"/"Von", e-mail addresses, bracketed initials, role
    words and agency suffixes stripped (with ``labels``, also a one-word label before "von":
    "Capital Von Jemima Kelly"), desk labels ("Staff"), roles, companies, web addresses
    and descriptions dropped, repeats (also as URL slugs) removed, and the site's own name
    dropped when the byline also names people."""
    if not raw:
        return ()
    sites = _site_names(site_name, url) if url else {_plain(site_name or "")} - {""}
    names: list[str] = []
    for part in _AUTHOR_SPLIT.split(_EMAIL.sub("", raw)):
        name = _BYLINE.sub("", part.strip())
        name = _LABEL_BY.sub("", name) if labels else name
        name = _AGENCY_TAIL.sub(r"\1", _NAME_TAIL.sub("", name))
        name = name.strip(" ,;:-()")
        name = name if _SUFFIX_DOT.search(name) else name.strip(" ,.;:-()")
        folded = {_plain(n) for n in names}  # "Sophie-Foster" repeats "Sophie Foster"
        if (
            len(name) >= 2
            and _plain(name) not in folded
            and len(name.split()) <= MAX_NAME_WORDS
            and not _NOT_A_PERSON.search(name)
        ):
            names.append(name)
    people = tuple(name for name in names if _plain(name) not in sites)
    return people or tuple(names[:1])  # a byline naming only the site keeps it


def parse_moment(value: str | None) -> datetime | None:
    """An ISO 8601 date or time as an aware UTC datetime (a naive one is taken as UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _local_day(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None


def page_time(html: str, kind: str) -> str | None:
    """The first ``kind`` ("published" or "modified") timestamp in the page's JSON-LD or meta."""
    pattern = _META_TIME[kind]
    for key in _TIME_KEYS[kind].finditer(html):
        start = key.start()
        # the JSON form's match starts at the quote before the key
        for at in (start - 1, start) if start and html[start - 1] == '"' else (start,):
            match = pattern.match(html, at)
            if match:
                return match.group(1)
    return None


def url_date(url: str) -> datetime | None:
    """A /2024/05/17/ style date in the URL path, as midnight UTC."""
    match = _URL_DATE.search(urlsplit(url).path)
    if match is None:
        return None
    try:
        year, month, day = map(int, match.groups())
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def dates(
    day: str | None, html: str, url: str
) -> tuple[datetime | None, datetime | None, str | None]:
    """(published, modified, source): the publish day trafilatura found, made precise by the
    page's own timestamp when that falls on the same day, or on the day before or after and
    names a time of day (htmldate's day is often the next one: the page's ``datePublished``
    wins, bench/extraction.py), else the URL's date. The
    source is "url" when the day is only the URL's (htmldate reads URLs too), else "page"."""
    published = parse_moment(day)
    stamp = page_time(html, "published") or ""
    day_of_stamp = _local_day(stamp) if stamp else None
    precise = day_of_stamp is not None and (
        published is None
        or day_of_stamp == published.date()
        or (bool(_CLOCK.search(stamp)) and abs((day_of_stamp - published.date()).days) <= 1)
    )
    if precise:
        published = parse_moment(stamp) or published
    modified = parse_moment(page_time(html, "modified"))
    from_url = url_date(url)
    if published is None:
        return from_url, modified, "url" if from_url else None
    only_url = not precise and from_url is not None and from_url.date() == published.date()
    return published, modified, "url" if only_url else "page"


@functools.cache
def _identifier() -> Any:
    """py3langid's model (about 70 MB once loaded): loaded on first use, only when pycld2 is
    unsure of a body."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _cld2(text: str) -> str | None:
    """pycld2's answer (its model is inside the wheel, about 7 MB) when it is sure, else None."""
    import pycld2  # type: ignore[import-untyped]

    try:
        reliable, _, details = pycld2.detect(text, isPlainText=True)
    except pycld2.error:  # invalid UTF-8 (lone surrogates): py3langid decides
        return None
    _name, code, percent, _score = details[0]
    if (
        not reliable
        or percent < CLD2_SURE_PERCENT
        or code in ("un", "xxx")
        or code.startswith("xx-")
    ):
        return None
    return str(_CLD2_CODES.get(code, code.split("-", 1)[0]))


def detect_language(text: str, declared: str | None) -> str | None:
    """The body's language: pycld2's when it is sure; else py3langid's on the body's first
    1,000 characters when it is confident; else what the page declares."""
    if not text.strip():
        return declared
    sure = _cld2(text[:CLD2_CHARS])
    if sure is not None:
        return sure
    lang, prob = _identifier().classify(text[:FALLBACK_CHARS])
    return str(lang) if prob >= LANGUAGE_CONFIDENCE else declared
