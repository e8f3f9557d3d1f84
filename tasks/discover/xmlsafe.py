"""One rule for every XML document we parse (feeds, sitemaps): no entity or other markup
declaration reaches a parser, wherever it sits, and no character reference names a character
XML forbids (feedparser's tolerant parser raises on ``&#xD800;`` and ``&#99999999;``)."""

from __future__ import annotations

import codecs
import re

_SNIFFED = (  # byte patterns of an XML document that does not start with ASCII "<"
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"\x4c\x6f\xa7\x94", "cp037"),  # "<?xm" in EBCDIC (feedparser sniffs it too)
)
_XML_ENCODING = re.compile(rb"(<\?xml[^>]*?encoding\s*=\s*)([\"'])([^\"']*)\2")
_HEADER_CHARSET = re.compile(r"(charset\s*=\s*)[\"']?([\w.:-]+)[\"']?", re.I)
_PROBE = "<!ENTITY x []>&#;"  # the characters markup declarations and references are made of
# What may come before the root element: whitespace, processing instructions, comments.
_MISC = re.compile(rb"\xef\xbb\xbf|\s+|<\?.*?\?>|<!--.*?-->", re.S)
_DOCTYPE_HEAD = re.compile(rb"<!DOCTYPE(?:\s+(?:\"[^\"]*\"|'[^']*'|[^\s\[>\"']+))*\s*", re.I)
_SUBSET_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|[^\]\"'<]+|<|\]", re.S)
# A markup declaration anywhere else: not XML, but a tolerant parser could still honour it.
_DECLARATION = re.compile(rb"<(!(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT|NOTATION)\b)", re.I)
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
_REF = rb"&#(?:[xX]0*([dD][89a-fA-F][0-9A-Fa-f]{2})|(5[5-7][0-9]{3}))"  # about U+D800..U+DFFF
_PAIR = re.compile(_REF + rb";" + _REF + rb";")


def _markup_safe(codec: str) -> bool:
    """Whether markup in this encoding is ASCII bytes (``<!ENTITY`` is seen by a byte filter);
    an unknown encoding is safe, since no parser can decode with it either. UTF-7 may spell
    ``<!`` as ``+ADwAIQ-`` even though it encodes it as ASCII."""
    try:
        return codecs.lookup(codec).name != "utf-7" and _PROBE.encode(codec) == b"<!ENTITY x []>&#;"
    except (LookupError, UnicodeError):
        return True


def _header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(2) if match else None


def _declared(body: bytes) -> str | None:
    match = _XML_ENCODING.search(body[:1024])
    return match.group(3).decode("ascii", "replace") if match else None


def _plausible(body: bytes, codec: str) -> bool:
    """Whether the bytes decode in this encoding to something that starts like XML."""
    try:
        text = body[:4096].decode(codec, "strict" if len(body) <= 4096 else "ignore")
    except (LookupError, UnicodeError):
        return False
    return text.lstrip("\ufeff \t\r\n").startswith("<")


def as_markup_safe(body: bytes, content_type: str | None = None) -> tuple[bytes, str | None]:
    """The document in an encoding whose markup is ASCII, and the content type to hand on with
    it. A document in UTF-16/32, EBCDIC or UTF-7 (by its BOM, its first bytes, its ``charset``
    or its XML declaration: wherever a parser could take the encoding from) is re-encoded as
    UTF-8, and every label naming such an encoding is rewritten to ``utf-8`` (so no parser's
    fallback picks it), so the byte rules below see what the parser will see."""
    header, declared = _header_charset(content_type), _declared(body)
    codec = next((name for prefix, name in _SNIFFED if body.startswith(prefix)), None)
    if codec is None:  # the label a parser would use: the first that fits the bytes
        codec = next((c for c in (header, declared) if c and _plausible(body, c)), None)
    transcode = codec is not None and not _markup_safe(codec)
    if transcode:
        body = body.decode(codec or "", "replace").lstrip("\ufeff").encode("utf-8")
    if transcode or (declared and not _markup_safe(declared)):
        body = _XML_ENCODING.sub(rb"\1\2utf-8\2", body, count=1)
    if content_type and header and (transcode or not _markup_safe(header)):
        content_type = _HEADER_CHARSET.sub(r"\g<1>utf-8", content_type, count=1)
    return body, content_type


def _subset_end(body: bytes, start: int) -> int | None:
    """Where the internal subset opened at ``start`` (just after ``[``) closes (after ``]``),
    skipping quoted literals, comments and processing instructions; ``None``: it never does."""
    position = start
    while match := _SUBSET_TOKEN.match(body, position):
        position = match.end()
        if match.group() == b"]":
            return position
    return None


def _without_internal_subset(body: bytes) -> tuple[bytes, int]:
    """The document with its prolog's DOCTYPE kept but its internal subset (``[...]``) cut,
    however long the prolog and whatever its comments hold; and where the prolog ends."""
    position = 0
    while (match := _MISC.match(body, position)) and match.end() > position:
        position = match.end()
    doctype = _DOCTYPE_HEAD.match(body, position)
    if doctype is None:
        return body, position
    if body[doctype.end() : doctype.end() + 1] != b"[":
        return body, doctype.end()
    end = _subset_end(body, doctype.end() + 1)
    if end is None:
        return body[: doctype.end()] + b">", len(body)  # never closed: nothing after is a document
    return body[: doctype.end()] + body[end:], doctype.end()


def _char_ref(match: re.Match[bytes]) -> bytes:
    hex_digits, decimal = match.groups()
    digits = (hex_digits or decimal).lstrip(b"0")
    if len(digits) > 7:  # beyond U+10FFFF (and beyond int()'s digit limit)
        return b""
    value = int(digits or b"0", 16 if hex_digits else 10)
    if value in (0x9, 0xA, 0xD) or 0x20 <= value <= 0xD7FF or 0xE000 <= value <= 0x10FFFF:
        return match.group() if value not in (0xFFFE, 0xFFFF) else b""
    return b""


def _pair(match: re.Match[bytes]) -> bytes:
    high_hex, high_dec, low_hex, low_dec = match.groups()
    high = int(high_hex, 16) if high_hex else int(high_dec)
    low = int(low_hex, 16) if low_hex else int(low_dec)
    if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
        return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return match.group()


def valid_char_refs(body: bytes) -> bytes:
    """Character references XML forbids (NUL and other controls, lone surrogates, beyond
    U+10FFFF, U+FFFE/U+FFFF) removed; a UTF-16 pair written as two references joined."""
    return _CHAR_REF.sub(_char_ref, _PAIR.sub(_pair, body))


def without_entity_declarations(body: bytes, content_type: str | None = None) -> bytes:
    """The document with no markup declaration left: the prolog's internal subset cut, any other
    ``<!ENTITY``, ``<!DOCTYPE``, ... escaped as text (feedparser keeps "safe" entities, and a few
    KB of flat ones expand to hundreds of MB), and forbidden character references removed. The
    document is made :func:`as_markup_safe` first (use that one too to get the content type)."""
    body = as_markup_safe(body, content_type)[0]
    body, prolog_end = _without_internal_subset(body)
    body = body[:prolog_end] + _DECLARATION.sub(rb"&lt;\1", body[prolog_end:])
    return valid_char_refs(body)
