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


def sniff_encoding(body: bytes, content_type: str | None) -> tuple[str, str]:
    """The encoding to use and where it came from (``bom``, ``header``, ``meta``, ``detected``,
    ``default``)."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return bom_codec, "bom"
    declared = [(header_charset(content_type), "header"), (markup_charset(body), "meta")]
    for name, origin in declared:
        if name is None:
            continue
        # Non-ASCII text in a legacy encoding is almost never valid UTF-8 by chance, so a UTF-8
        # body under a windows-1252, ISO-8859-15 or GB2312 label is a server misconfiguration.
        if name != "utf-8" and not body.isascii() and _is_utf8(body):
            return "utf-8", f"{origin} ({name} label on a UTF-8 body)"
        if name == "utf-8" and not _is_utf8(body):
            continue  # a false UTF-8 label: let the next declaration or detection decide
        return name, origin
    if _is_utf8(body):
        return "utf-8", "detected"
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
