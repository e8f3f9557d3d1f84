"""Format characters through trafilatura unchanged. trafilatura drops every character Python calls
non-printable, so ZWJ (emoji sequences such as a family), ZWNJ (Persian, Hindi), bidi marks and
emoji tag characters (the flags of England, Scotland, Wales) vanish from titles and text. Before
extraction each of them is swapped, in the parsed page, for a stand-in character from a block
the page does not use; after extraction the stand-ins are swapped back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Unicode's format characters (category Cf) except the ones ``tasks/extract/clean.py`` removes
# anyway (soft hyphen, zero-width space, word joiner, BOM).
_RANGES = (
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200C, 0x200F),
    (0x202A, 0x202E),
    (0x2061, 0x2064),
    (0x2066, 0x206F),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
KEPT = "".join(chr(c) for low, high in _RANGES for c in range(low, high + 1))
# Stand-ins: printable symbols (not letters or digits, so word counts do not change); the first
# block the page does not use is taken (Braille patterns, then Byzantine musical symbols).
_BLOCKS = ((0x2800, 0x28FF), (0x1D000, 0x1D0F5))
# Whether a page holds any of them: the characters, their names, most references. Three scans,
# not one pattern: a character class with characters beyond the BMP makes Python's re try it at
# every position (42 ms on a 300 KB page); the BMP class, a plain astral range and patterns
# starting with "&" are scanned fast (about 2 ms together).
_BMP = re.compile(f"[{re.escape(''.join(c for c in KEPT if ord(c) < 0x10000))}]")
_ASTRAL = frozenset(c for c in KEPT if ord(c) >= 0x10000)
_ANY_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_REFERENCE = re.compile(
    r"&(?:zwn?j|lrm|rlm);"  # ("[lr]lm" before: it missed &lrm;)
    r"|&#(?:[xX]0*(?:20[026][0-9a-fA-F]|6[01][0-9a-fA-F]|[eE]00[0-7][0-9a-fA-F])"
    r"|0*(?:8[23]\d\d|1[5-7]\d\d|917[56]\d\d));",
)


def has_kept(html: str) -> bool:
    """Whether ``html`` holds a character of :data:`KEPT` or a reference to one."""
    if _REFERENCE.search(html) or _BMP.search(html):
        return True
    return _ANY_ASTRAL.search(html) is not None and any(c in html for c in _ASTRAL)


@dataclass(frozen=True, slots=True)
class Shield:
    forward: dict[int, int]
    back: dict[int, int]

    def restore(self, text: str | None) -> str | None:
        return text.translate(self.back) if text else text

    def restore_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        """Every string (and list of strings) of trafilatura's result with its characters back."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.translate(self.back)
            elif isinstance(value, list):
                value = [v.translate(self.back) if isinstance(v, str) else v for v in value]
            out[key] = value
        return out


def _stand_ins(html: str) -> Iterable[int] | None:
    for low, high in _BLOCKS:
        block = range(low, high + 1)
        if len(block) >= len(KEPT) and not re.search(f"[{chr(low)}-{chr(high)}]", html):
            return block
    return None


def shield(tree: Any, html: str) -> Shield | None:
    """Swap the format characters of the parsed page ``tree`` (texts, tails, attribute values)
    for stand-ins; ``None`` when the page has none (nothing changed), or uses every stand-in
    block (then trafilatura drops them, as before)."""
    if tree is None or not has_kept(html):
        return None
    block = _stand_ins(html)
    if block is None:
        return None
    forward = dict(zip(map(ord, KEPT), block, strict=False))
    for element in tree.iter():
        if element.text:
            element.text = element.text.translate(forward)
        if element.tail:
            element.tail = element.tail.translate(forward)
        for name, value in element.attrib.items():
            element.attrib[name] = value.translate(forward)
    return Shield(forward, {v: k for k, v in forward.items()})
