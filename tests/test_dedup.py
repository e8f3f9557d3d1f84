"""Near-duplicate detection: fingerprints, story clusters in the database (both dialects), the
recency window, the earliest-published root, and concurrent writers."""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage import articles, runs
from storage.engine import transaction
from storage.models import Article
from tasks.dedup.dedup import accept_page_canonical, band_hashes, best_match, signature, similarity
from tasks.extract.extract import content_hash
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult
from tests import dedup_fixtures as fx

NEAR = articles.NearDup(matcher=functools.partial(best_match, threshold=0.5))
DAY = datetime(2026, 11, 1, 8, tzinfo=UTC)


def page(url: str, text: str, published: datetime = DAY) -> PageResult:
    sig = signature(text)
    art = ExtractedArticle(
        url=url,
        canonical_url=url,
        text=text,
        content_hash=content_hash(text),
        published_at=published,
        word_count=len(text.split()),
        minhash=sig,
        bands=tuple(band_hashes(sig)),
    )
    fetch = FetchOutcome(url=url, kind="page", reason="ok", status_code=200, started_at=DAY)
    return PageResult(fetch=fetch, item=FeedItem(url=url, canonical_url=url), article=art)


def store(db_url: str, *pages: PageResult) -> None:
    with transaction(db_url) as session:
        run_id = runs.start_run(session, "wire", None)
    with transaction(db_url) as session:
        articles.store_pages(session, run_id, pages, near=NEAR)


def clusters(db_url: str) -> dict[str, str | None]:
    """URL -> URL of the article it is a copy of (None for a story's root)."""
    with transaction(db_url) as session:
        rows = session.execute(
            select(Article.id, Article.canonical_url, Article.duplicate_of)
        ).all()
    by_id = {row[0]: row[1] for row in rows}
    return {row[1]: by_id.get(row[2]) if row[2] else None for row in rows}


def test_signature_is_deterministic_and_512_bytes() -> None:
    text = fx.article(1)
    assert signature(text) == signature(text)
    assert len(signature(text)) == 512
    assert len(band_hashes(signature(text))) == 32


@pytest.mark.parametrize("text", ["", "two words", "a b c d " * 40, fx.article(1), fx.article(2)])
def test_signature_equals_datasketch_minhash(text: str) -> None:
    from datasketch import MinHash

    from tasks.dedup.dedup import NUM_PERM, SEED, shingles

    minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update_batch(list(shingles(text)))
    assert signature(text) == bytes(minhash.hashvalues.astype("<u4"))


def test_similarity_separates_copies_from_other_articles() -> None:
    base = signature(fx.article(1))
    assert similarity(base, signature(fx.syndicated(fx.article(1), 1))) > 0.8
    assert similarity(base, signature(fx.article(2))) < 0.1


def test_similarity_and_bands_match_the_numpy_reading_of_the_signature() -> None:
    import hashlib

    import numpy as np

    a, b = signature(fx.article(1)), signature(fx.edited(fx.article(1), 0.3, 1))
    left, right = np.frombuffer(a, dtype="<u4"), np.frombuffer(b, dtype="<u4")
    assert similarity(a, b) == np.count_nonzero(left == right) / 128
    bands = [
        int.from_bytes(
            hashlib.blake2b(
                left[n * 4 : (n + 1) * 4].tobytes(), digest_size=8, person=n.to_bytes(16, "little")
            ).digest(),
            "little",
            signed=True,
        )
        for n in range(32)
    ]
    assert band_hashes(a) == bands
    assert similarity(a, a[:-4]) == 0.0  # a broken signature matches nothing


def test_ingest_process_compares_signatures_without_numpy() -> None:
    import subprocess
    import sys

    code = "import sys, flows.ingest; print('numpy' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"  # numpy: about 20 MB, needed only to make signatures


def test_best_match_requires_the_threshold() -> None:
    base = signature(fx.article(1))
    candidates = [(7, signature(fx.article(2))), (9, signature(fx.edited(fx.article(1), 0.05, 3)))]
    match = best_match(base, candidates, 0.5)
    assert match is not None and match[0] == 9 and match[1] >= 0.5
    assert best_match(base, candidates[:1], 0.5) is None


@pytest.mark.parametrize(
    ("fetched", "declared", "accepted"),
    [
        ("https://www.bbc.co.uk/news/a?x=1", "https://bbc.co.uk/news/a", True),
        ("https://www.bbc.co.uk/news/a", "https://www.bbc.co.uk/", False),
        ("https://news.example.com/a", "https://other.example.org/a", False),
        ("http://127.0.0.1:8000/wired.com/x", "https://www.wired.com/x", False),
        ("https://example.com/a", None, False),
    ],
)
def test_accept_page_canonical_same_site_and_not_root(
    fetched: str, declared: str | None, accepted: bool
) -> None:
    assert accept_page_canonical(fetched, declared) is accepted


FAMILIES: dict[str, Callable[[str], str]] = {
    "syndicated": lambda t: fx.syndicated(t, 5),
    "edit-5%": lambda t: fx.edited(t, 0.05, 5),
    "edit-15%": lambda t: fx.edited(t, 0.15, 5),
    "update": lambda t: fx.updated(t, 5),
    "truncated-60%": fx.truncated,
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_store_pages_links_near_copy_to_original(migrated_db: str, family: str) -> None:
    original = fx.article(11)
    store(migrated_db, page("https://a.example/story", original))
    store(
        migrated_db,
        page("https://b.example/copy", FAMILIES[family](original), DAY + timedelta(hours=2)),
    )

    assert clusters(migrated_db) == {
        "https://a.example/story": None,
        "https://b.example/copy": "https://a.example/story",
    }


@pytest.mark.parametrize(
    "other",
    [lambda: fx.with_footer(fx.article(13)), lambda: fx.same_event(11)],
    ids=["footer", "event"],
)
def test_store_pages_keeps_different_articles_apart(migrated_db: str, other: object) -> None:
    store(migrated_db, page("https://a.example/one", fx.with_footer(fx.article(12))))
    store(migrated_db, page("https://a.example/two", other()))  # type: ignore[operator]

    assert set(clusters(migrated_db).values()) == {None}


def test_store_pages_roots_the_cluster_at_the_earliest_published(migrated_db: str) -> None:
    original = fx.article(21)
    store(
        migrated_db,
        page("https://copy.example/1", fx.syndicated(original, 1), DAY + timedelta(hours=3)),
    )
    store(
        migrated_db,
        page("https://copy.example/2", fx.syndicated(original, 2), DAY + timedelta(hours=5)),
    )
    store(migrated_db, page("https://wire.example/original", original, DAY))

    assert clusters(migrated_db) == {
        "https://copy.example/1": "https://wire.example/original",
        "https://copy.example/2": "https://wire.example/original",
        "https://wire.example/original": None,
    }


def test_store_pages_ignores_copies_outside_the_recency_window(migrated_db: str) -> None:
    original = fx.article(31)
    store(migrated_db, page("https://a.example/old", original, DAY - timedelta(days=60)))
    store(migrated_db, page("https://b.example/new", fx.syndicated(original, 1), DAY))

    assert set(clusters(migrated_db).values()) == {None}


def test_store_pages_counts_near_copies_as_duplicates(migrated_db: str) -> None:
    original = fx.article(41)
    with transaction(migrated_db) as session:
        run_id = runs.start_run(session, "wire", None)
    with transaction(migrated_db) as session:
        counts = articles.store_pages(
            session,
            run_id,
            [
                page("https://a.example/s", original),
                page("https://b.example/s", fx.syndicated(original, 1)),
            ],
            near=NEAR,
        )
    assert (counts.new, counts.duplicates) == (2, 1)


def _store_side(db_url: str, side: int, pairs: int, barrier: object) -> None:
    texts = [fx.article(100 + n) for n in range(pairs)]
    if side:
        texts = [fx.syndicated(text, n) for n, text in enumerate(texts)]
    batch = [page(f"https://side{side}.example/{n}", t) for n, t in enumerate(texts)]
    with transaction(db_url) as session:
        run_id = runs.start_run(session, f"side{side}", None)
    barrier.wait()  # type: ignore[attr-defined]
    with transaction(db_url) as session:
        articles.store_pages(session, run_id, batch, near=NEAR)  # one transaction, at the same time


def test_concurrent_writers_put_copies_in_one_cluster(migrated_db: str) -> None:
    pairs = 40
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [
        ctx.Process(target=_store_side, args=(migrated_db, side, pairs, barrier)) for side in (0, 1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0

    linked = clusters(migrated_db)
    assert len(linked) == 2 * pairs
    for n in range(pairs):
        a, b = f"https://side0.example/{n}", f"https://side1.example/{n}"
        assert (linked[a], linked[b]) in {(None, a), (b, None)}, (a, b, linked[a], linked[b])


def test_comparable_words_is_what_hash_shingles_and_line_keys_compare() -> None:
    from tasks.dedup import boilerplate
    from tasks.dedup.dedup import shingles
    from tasks.dedup.words import comparable_words
    from tasks.extract.extract import content_hash

    a, b = "Ｆｕｌｌ-width  CAFÉ, straße!\n北京市今天", "full width café strasse 北京市今天"
    assert comparable_words(a) == ["full", "width", "café", "strasse", "北京市今天"]
    assert content_hash(a) == content_hash(b)
    assert shingles(a) == shingles(b)
    assert boilerplate.normalize(a) == " ".join(comparable_words(b))
