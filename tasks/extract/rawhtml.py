"""Raw HTML kept for re-extraction: fetched page bodies compressed with zlib (stdlib)."""

from __future__ import annotations

import zlib

from tasks.records import FetchOutcome, RawPage

LEVEL = 3  # ~4.6x on news HTML at half the CPU of zlib's default 6 (~5.2x; bench/README.md)
ENCODING = "zlib"


def compress_page(outcome: FetchOutcome) -> RawPage | None:
    """The fetched body of ``outcome``, compressed; ``None`` when nothing was fetched."""
    if not outcome.ok or outcome.body is None:
        return None
    return RawPage(
        url=outcome.final_url or outcome.url,
        content_type=(outcome.content_type or "")[:255] or None,
        body=zlib.compress(outcome.body, LEVEL),
        size=len(outcome.body),
        encoding=ENCODING,
    )


def decompress_body(body: bytes, encoding: str = ENCODING) -> bytes:
    """The original bytes of a stored body."""
    if encoding != ENCODING:
        raise ValueError(f"unknown raw page encoding {encoding!r}")
    return zlib.decompress(body)
