"""One rule for every XML document we parse (feeds, sitemaps): no entity declarations survive."""

from __future__ import annotations

import codecs
import re

_UTF16 = (
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)
_DOCTYPE_WITH_ENTITIES = re.compile(rb"<!DOCTYPE[^\[>]*\[[^\]]*<!ENTITY.*?\]\s*>", re.S | re.I)
_XML_ENCODING = re.compile(rb"(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def without_entity_declarations(body: bytes) -> bytes:
    """The document without a DOCTYPE that declares entities: feedparser would keep "safe"
    entities, and a few KB of flat ones expand to hundreds of MB (quadratic blowup). UTF-16
    documents are re-encoded as UTF-8 first so the same rule applies."""
    for prefix, encoding in _UTF16:
        if body.startswith(prefix):
            text = body.decode(encoding, "replace").lstrip("\ufeff").encode("utf-8")
            body = _XML_ENCODING.sub(rb"\1\2utf-8\2", text, count=1)
            break
    head, tail = body[:65536], body[65536:]
    if b"<!ENTITY" not in head.upper():
        return body
    return _DOCTYPE_WITH_ENTITIES.sub(b"", head, count=1) + tail
