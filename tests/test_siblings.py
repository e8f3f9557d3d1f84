"""Restoring paragraphs of an article split into sibling blocks (tasks.extract.siblings)."""

from __future__ import annotations

from tasks.extract.siblings import restore

P = [
    f"Paragraph {n} of the harbour story tells how the old pier was rebuilt by the town's "
    f"volunteers over {n + 2} long winters."
    for n in range(1, 7)
]
TEASER = "Another story from the archive about a lighthouse keeper who retired after forty years."


def _block(paragraphs: list[str], cls: str = "chunk") -> str:
    return f'<div class="{cls}">' + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>"


def _page(*blocks: str) -> str:
    return f"<html><body><article>{''.join(blocks)}</article></body></html>"


def test_restore_puts_back_a_sibling_block_in_document_order() -> None:
    html = _page(_block(P[:2]), _block(P[2:4]), _block(P[4:]))
    kept = "\n".join(P[2:4])

    assert restore(html, kept, kept) == "\n".join(P)


def test_restore_ignores_a_one_paragraph_block() -> None:
    html = _page(_block(P[:3]), _block([TEASER]))
    kept = "\n".join(P[:3])

    assert restore(html, kept, kept) == kept


def test_restore_ignores_paragraphs_in_other_markup() -> None:
    html = _page(_block(P[:3]), _block(P[3:], cls="related"))
    kept = "\n".join(P[:3])

    assert restore(html, kept, kept) == kept


def test_restore_leaves_out_what_cleaning_dropped() -> None:
    html = _page(_block(P[:3]), _block(P[3:]))
    raw = "\n".join(P)
    cleaned = "\n".join(P[:3])

    assert restore(html, cleaned, raw) == cleaned
