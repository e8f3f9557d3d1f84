"""Near-duplicate fingerprints: MinHash over word 3-shingles, LSH bands, Jaccard estimates, and
the guard for a page's own idea of its canonical URL.

128 permutations split into 32 bands of 4 rows: two texts whose Jaccard similarity is 0.55 share
at least one band with probability 0.95 (0.87 at 0.5; datasketch's 25x5 gives only 0.79 at 0.55),
while unrelated articles (J ~0.05) almost never do. Candidates are then verified against the
stored signatures (../shared/docs/dedup.md B5-B7), so the threshold itself stays exact.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tasks.dedup.words import comparable_words

if TYPE_CHECKING:  # numpy is imported where signatures are made (the extraction workers) only:
    import numpy as np  # the ingest process compares and bands them without it (about 20 MB)
    import numpy.typing as npt

NUM_PERM = 128
BANDS = 32
ROWS = 4
SHINGLE = 3
SEED = 1
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    """Word ``size``-shingles of the normalized text (case and punctuation ignored)."""
    words = comparable_words(text)
    if len(words) < size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def signature(text: str) -> bytes:
    """The MinHash signature of ``text``: 128 unsigned 32-bit values, 512 bytes.

    The values of datasketch's ``MinHash(num_perm=128, seed=1).update_batch(shingles)`` (its
    default "affine32" scheme: SHA-1's first 4 bytes, the MurmurHash3 finalizer, then
    ``a * h + b`` mod 2^32; tests/test_dedup.py checks they are equal), computed here because
    importing datasketch loads scipy: ~50 MB in every extraction worker."""
    import numpy as np

    values = [
        int.from_bytes(hashlib.sha1(s, usedforsecurity=False).digest()[:4], "little")
        for s in shingles(text)
    ]
    out = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    if values:
        a, b = _permutations()
        hv = _fmix32(np.array(values, dtype=np.uint32)).reshape(-1, 1)
        out = np.minimum(out, (hv * a + b).min(axis=0))
    return out.astype("<u4").tobytes()


@functools.cache
def _permutations() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """datasketch's affine32 permutation parameters for ``SEED``: odd ``a``, any ``b``."""
    import numpy as np

    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _fmix32(hv: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The MurmurHash3 32-bit finalizer, element-wise (multiplication wraps mod 2^32)."""
    import numpy as np

    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def band_hashes(sig: bytes) -> list[int]:
    """One signed 64-bit hash per LSH band (what the ``minhash_bands`` table indexes): the
    blake2b of the band's ``ROWS`` little-endian values, as stored in the signature."""
    width = ROWS * 4
    out = []
    for band in range(BANDS):
        chunk = sig[band * width : (band + 1) * width]
        digest = hashlib.blake2b(chunk, digest_size=8, person=band.to_bytes(16, "little")).digest()
        out.append(int.from_bytes(digest, "little", signed=True))
    return out


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal MinHash values; two values
    are equal in any byte order, so the native one is read); 0.0 for signatures of different
    or broken lengths."""
    if len(a) != len(b) or len(a) % 4:
        return 0.0
    left, right = memoryview(a).cast("I"), memoryview(b).cast("I")
    same = sum(x == y for x, y in zip(left, right, strict=True))
    return same / NUM_PERM


def _registrable(host: str) -> str:
    from courlan import extract_domain

    return str(extract_domain(f"http://{host}/") or host)


def accept_page_canonical(fetched_url: str, declared: str | None) -> bool:
    """A page's rel=canonical / og:url is trusted only on the fetched URL's registrable domain and
    off the site root (CMS templates often point every page at the home page)."""
    if not declared:
        return False
    try:
        got, want = urlsplit(fetched_url), urlsplit(declared)
    except ValueError:
        return False
    if want.scheme not in ("http", "https") or not want.hostname or not got.hostname:
        return False
    if want.path in ("", "/") and not want.query:
        return False
    return _registrable(want.hostname.lower()) == _registrable(got.hostname.lower())


def best_match(
    sig: bytes, candidates: Sequence[tuple[int, bytes]], threshold: float
) -> tuple[int, float] | None:
    """The candidate whose stored signature is most similar to ``sig``, if at ``threshold`` or
    above (LSH candidates are only probable matches: verify before linking)."""
    scored = [(similarity(sig, other), ident) for ident, other in candidates if other]
    if not scored:
        return None
    best, ident = max(scored)
    return (ident, best) if best >= threshold else None
