"""Decoding page bytes the way browsers do: BOM, then the HTTP header, then ``<meta>``, then
detection (never ``response.text``, which assumes ISO-8859-1 for ``text/*``)."""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]+encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
# Encodings detection may pick for an undeclared page: web encodings, not DOS code pages.
_WEB_ENCODINGS = [
    "utf_8",
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "iso8859_2",
    "iso8859_15",
    "koi8_r",
    "gb18030",
    "big5",
    "cp932",
    "euc_jp",
    "cp949",
]


# WHATWG Encoding Standard: labels whose browser meaning is a superset of Python's codec.
_WHATWG = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _WHATWG.get(name, name)


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return _codec(match.group(1)) if match else None


def markup_charset(body: bytes) -> str | None:
    head = body[:4096]
    match = _XML_DECL.search(head) or _META_CHARSET.search(head)
    return _codec(match.group(1).decode("ascii", "replace")) if match else None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


STRAY_SHARE = 0.2  # invalid sequences per valid multi-byte character a UTF-8 page may have


def _mostly_utf8(body: bytes) -> bool:
    """UTF-8 apart from a few stray bytes: at least one valid multi-byte character, and at most
    one invalid sequence per five of them (a legacy page under a UTF-8 label has none valid:
    ``naïve`` in windows-1252 is not a UTF-8 sequence, and real text almost never forms one)."""
    invalid = valid = 0
    position = 0
    while True:
        try:
            text = body[position:].decode("utf-8")
        except UnicodeDecodeError as exc:
            text = body[position : position + exc.start].decode("utf-8")
            invalid += 1
            position += exc.end
        else:
            position = len(body)
        valid += sum(1 for char in text if ord(char) > 0x7F)
        if position >= len(body) or invalid > 1000:
            break
    return valid > 0 and invalid <= STRAY_SHARE * valid


def _can_declare(name: str) -> bool:
    """Whether an encoding could be the one an ASCII ``<meta>`` declaration is written in: not
    UTF-16/32 or EBCDIC (WHATWG: a meta charset of UTF-16 means UTF-8)."""
    try:
        return "<meta charset>".encode(name) == b"<meta charset>" and name != "utf-7"
    except (LookupError, UnicodeError):
        return False


def _fits(body: bytes, name: str) -> bool:
    """Whether a header charset can be true: an ASCII-compatible one always can; UTF-16/32 only
    when the bytes decode to something that starts like markup."""
    if _can_declare(name):
        return True
    try:
        text = body[:4096].decode(name, "strict" if len(body) <= 4096 else "ignore")
    except (LookupError, UnicodeError):
        return False
    return text.lstrip().startswith("<")


# The legacy encoding browsers default to for a locale (WHATWG Encoding Standard, "Guessing"):
# when a page's bytes must be guessed, the one its declared language uses is tried first.
_LEGACY_BY_LANGUAGE = {
    **dict.fromkeys(["pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs", "sq"], "cp1250"),
    **dict.fromkeys(["ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "tg"], "cp1251"),
    "el": "cp1253",
    **dict.fromkeys(["tr", "az"], "cp1254"),
    **dict.fromkeys(["he", "yi"], "cp1255"),
    **dict.fromkeys(["ar", "fa", "ur"], "cp1256"),
    **dict.fromkeys(["lt", "lv", "et"], "cp1257"),
    "vi": "cp1258",
    "th": "cp874",
    "ja": "cp932",
    "ko": "cp949",
    "zh": "gb18030",
}
_HTML_LANG = re.compile(rb"<html[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.I)
_CONTENT_LANGUAGE = re.compile(
    rb"<meta[^>]+http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*[\"']?([A-Za-z]{2,3})",
    re.I,
)


def _language_guess(body: bytes) -> str | None:
    """The legacy encoding of the page's declared language (windows-1252 for the Western ones)
    when the bytes decode in it; ``None`` without a declared language."""
    head = body[:20_000]
    match = _HTML_LANG.search(head) or _CONTENT_LANGUAGE.search(head)
    if match is None:
        return None
    name = _LEGACY_BY_LANGUAGE.get(match.group(1).decode("ascii").lower(), "cp1252")
    try:
        body.decode(name)
    except UnicodeDecodeError:
        return None
    return name


def sniff_encoding(body: bytes, content_type: str | None) -> tuple[str, str]:
    """The encoding to use and where it came from (``bom``, ``header``, ``meta``, ``detected``,
    ``language``, ``default``)."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return bom_codec, "bom"
    declared = [(header_charset(content_type), "header"), (markup_charset(body), "meta")]
    for name, origin in declared:
        if name is None:
            continue
        if not (_can_declare(name) if origin == "meta" else _fits(body, name)):
            continue  # cannot be true for these bytes (utf-16 on an ASCII page)
        # Non-ASCII text in a legacy encoding is almost never valid UTF-8 by chance, so a UTF-8
        # body under a windows-1252, ISO-8859-15 or GB2312 label is a server misconfiguration.
        if name != "utf-8" and not body.isascii() and _is_utf8(body):
            return "utf-8", f"{origin} ({name} label on a UTF-8 body)"
        if name == "utf-8" and not _is_utf8(body):
            if _mostly_utf8(body):  # a few stray bytes: replaced, the rest stays right
                return "utf-8", f"{origin} (a few invalid bytes replaced)"
            continue  # a false UTF-8 label: let the next declaration or detection decide
        return name, origin
    if _is_utf8(body):
        return "utf-8", "detected"
    guess = _language_guess(body)
    if guess is not None:
        return guess, "language"
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000], cp_isolation=_WEB_ENCODINGS).best()
    if best is not None and len(body) >= 200:  # too short a text is no evidence: browser default
        return _codec(best.encoding) or "cp1252", "detected"
    return "cp1252", "default"


def decode_html(body: bytes, content_type: str | None) -> str:
    """Page bytes as text (undecodable bytes replaced, BOM removed)."""
    name, _origin = sniff_encoding(body, content_type)
    text = body.decode(name, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text
