"""The characters no stored text keeps (checklist row H8): those a database cannot store or that
are not text at all. Everything else stays as written: joiners (ZWJ in emoji sequences, ZWNJ in
Persian), variation selectors, bidi marks, soft hyphens."""

from __future__ import annotations

import re

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
# NUL and the C0 controls except tab, newline and carriage return; DEL and the C1 controls; lone
# surrogates (a str holds a pair as one code point, so any surrogate left is lone: PostgreSQL and
# UTF-8 refuse it); the 66 non-characters (U+FDD0..U+FDEF, U+xFFFE and U+xFFFF of every plane).
_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")


def strip_unsafe(text: str) -> str:
    """``text`` without the characters above."""
    return _UNSAFE.sub("", text)
