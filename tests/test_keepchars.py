"""Which pages hold format characters that must be shielded from trafilatura."""

from __future__ import annotations

import pytest

from tasks.extract.keepchars import KEPT, has_kept


@pytest.mark.parametrize("char", list(KEPT), ids=lambda c: f"U+{ord(c):04X}")
def test_has_kept_finds_every_kept_character(char: str) -> None:
    assert has_kept(f"<p>before{char}after</p>")


@pytest.mark.parametrize(
    "ref", ["&zwj;", "&zwnj;", "&lrm;", "&rlm;", "&#8205;", "&#x200D;", "&#917631;"]
)
def test_has_kept_finds_references(ref: str) -> None:
    assert has_kept(f"<p>a{ref}b</p>")


@pytest.mark.parametrize(
    "html",
    ["<p>plain</p>", "<p>emoji \U0001f600 and ü</p>", "<p>\u200b soft\u00ad</p>", "&amp;zwj"],
)
def test_has_kept_ignores_pages_without_them(html: str) -> None:
    assert not has_kept(html)
