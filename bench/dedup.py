"""Near-duplicate detection: quality on a labelled set built from real corpus bodies, and the cost
of the LSH lookup with 10k and 1M stored articles on SQLite and on PostgreSQL.

Usage: .venv/bin/python bench/dedup.py [--quick] [--sizes 10000,1000000] [--pg-url URL]
                                       [--part all|quality|cost] [--rounds N] [--no-pg]

1. Quality. Every ground-truth body of ../shared/corpus/extraction-dev and fundus with at least 150
   words is an original (one per URL: a URL captured twice is a real revision pair instead); the
   perturbation families of tests/dedup_fixtures.py (the B5 families of ../shared/docs/dedup.md)
   turn each into a copy. Originals are stored first, then each copy with
   articles.store_pages(near=NearDup(best_match, 0.5)) into a migrated SQLite file; recall is the
   share of copies linked to their own original. Negatives (all pairs of different corpus
   articles, different articles sharing a site footer or a same-event lead, the real same-event
   pair of web/syndicated) must never be linked. The four real web/syndicated pairs (extracted
   with tasks.extract.extract.extract_page) and the recaptured URL are reported one by one.
2. Cost. Articles rows (real signatures for story clusters built from the corpus and for a few
   recurring template stories, random uint32 signatures for the filler, published over the last
   year) and their 32 band rows each are bulk-loaded into a schema made by
   storage.migrate.upgrade (SQLite: executemany in one transaction; PostgreSQL: COPY);
   articles.find_near_duplicate is then timed for rounds of fresh probes dated now (copies of
   stored stories, unseen articles, template-series edits), on SQLite and on PostgreSQL (a
   database created and dropped here through the admin connection). p50/p95 are medians over the
   rounds, which damps the noise of other work on the machine.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import and_, event, func, or_, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from storage import articles, runs  # noqa: E402
from storage.engine import dispose_engines, get_engine, snapshot, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article, ArticleURL, MinhashBand, Source  # noqa: E402
from tasks.dedup.dedup import (  # noqa: E402
    BANDS,
    NUM_PERM,
    ROWS,
    band_hashes,
    best_match,
    signature,
    similarity,
)
from tasks.dedup.urls import canonicalize_url  # noqa: E402
from tasks.extract.extract import PageInput, content_hash, extract_page  # noqa: E402
from tasks.records import ExtractedArticle, FeedItem, FetchOutcome, PageResult  # noqa: E402
from tests import dedup_fixtures as fx  # noqa: E402

THRESHOLD = 0.5
WINDOW = timedelta(days=30)
NEAR = articles.NearDup(matcher=functools.partial(best_match, threshold=THRESHOLD), window=WINDOW)
MIN_WORDS = 150
DAY = datetime(2026, 11, 1, 8, tzinfo=UTC)  # quality runs: originals in the 20 days before
GOAL_SYNDICATED, GOAL_EDITS, GOAL_RATIO = 0.98, 0.95, 2.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite
CHUNK = 50_000  # articles per bulk-load chunk (x32 band rows)

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]


def corpus_root() -> Path:
    path = Path(os.environ.get("NEWSFLOW_CORPUS") or ROOT.parent / "shared" / "corpus")
    if not (path / "extraction-dev").is_dir():
        raise SystemExit(f"corpus not found at {path} (set NEWSFLOW_CORPUS)")
    return path


# --------------------------------------------------------------------------------------------
# The labelled set


@dataclass(frozen=True, slots=True)
class Body:
    key: str
    url: str
    text: str


@dataclass(frozen=True, slots=True)
class Corpus:
    bodies: list[Body]  # one per article URL: the originals of the labelled set
    recaptured: list[tuple[Body, Body]]  # the same URL captured again later (a real revision)
    pages: int
    from_extraction_dev: int
    fundus_only: int


def _fundus_body(expected: dict[str, Any]) -> str:
    body = expected.get("body") or {}
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
    return "\n\n".join(str(p) for p in parts)


def load_corpus(root: Path) -> Corpus:
    """Ground-truth bodies of extraction-dev, plus the fundus pages it lacks (the two hold the
    same pages; their bodies were checked equal), with at least MIN_WORDS words. A URL captured
    twice (taz.de, 2023 and 2024) is one article: its first capture is an original, the later one
    a real revision pair, never a negative."""
    found: dict[str, tuple[str, str]] = {}
    truth = json.loads((root / "extraction-dev" / "ground-truth.json").read_text("utf-8"))
    for key, entry in truth.items():
        found[key] = (str(entry.get("url") or key), str(entry.get("articleBody") or ""))
    from_dev = len(found)
    with (root / "fundus" / "INDEX.tsv").open(encoding="utf-8", newline="") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            key = f"{row['country']}_{row['html_gz'].removesuffix('.html.gz')}"
            if key in found:
                continue
            path = root / "fundus" / row["country"] / row["expected_json"]
            expected = json.loads(path.read_text("utf-8")).get(row["version_key"]) or {}
            found[key] = (row["url"] or key, _fundus_body(expected))
    by_url: dict[str, list[Body]] = {}
    for key, (url, text) in sorted(found.items()):  # keys end in the capture date
        if len(text.split()) >= MIN_WORDS:
            by_url.setdefault(canonicalize_url(url) or url, []).append(Body(key, url, text.strip()))
    bodies = [captures[0] for captures in by_url.values()]
    recaptured = [(c[0], later) for c in by_url.values() for later in c[1:]]
    return Corpus(bodies, recaptured, len(found), from_dev, len(found) - from_dev)


def make_page(url: str, text: str, published: datetime) -> PageResult:
    """One extracted page as the pipeline hands it to storage (as tests/test_dedup.py builds it)."""
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
    return page_of(art, published)


def page_of(art: ExtractedArticle, fetched: datetime) -> PageResult:
    fetch = FetchOutcome(url=art.url, kind="page", reason="ok", status_code=200, started_at=fetched)
    item = FeedItem(url=art.url, canonical_url=art.canonical_url)
    return PageResult(fetch=fetch, item=item, article=art)


def matrix(sigs: Sequence[bytes]) -> U32:
    return np.frombuffer(b"".join(sigs), dtype="<u4").reshape(len(sigs), NUM_PERM).astype(np.uint32)


def max_pair_similarity(sigs: Sequence[bytes]) -> float:
    """The largest estimated Jaccard similarity over all pairs of different signatures."""
    values = matrix(sigs)
    best = 0
    for i in range(len(values) - 1):
        equal = np.count_nonzero(values[i + 1 :] == values[i], axis=1)
        best = max(best, int(equal.max()))
    return best / NUM_PERM


# --------------------------------------------------------------------------------------------
# Quality


@dataclass(slots=True)
class QualityDB:
    url: str
    run_id: int

    def store(self, page: PageResult) -> None:
        with transaction(self.url) as session:
            articles.store_pages(session, self.run_id, [page], near=NEAR)

    def links(self) -> dict[str, tuple[int, int | None]]:
        """URL -> (article id it is stored under, that article's duplicate_of)."""
        with transaction(self.url) as session:
            rows = session.execute(
                select(ArticleURL.url, Article.id, Article.duplicate_of).join(
                    Article, Article.id == ArticleURL.article_id
                )
            ).all()
        return {row[0]: (row[1], row[2]) for row in rows}


def fresh_sqlite(directory: Path, name: str) -> QualityDB:
    url = f"sqlite:///{directory / name}"
    upgrade(url)
    with transaction(url) as session:
        return QualityDB(url, runs.start_run(session, "bench", None))


def clone_sqlite(directory: Path, base: QualityDB, name: str) -> QualityDB:
    dispose_engines()  # the last connection checkpoints the WAL into the file
    shutil.copyfile(make_url(base.url).database or "", directory / name)
    url = f"sqlite:///{directory / name}"
    with transaction(url) as session:
        return QualityDB(url, runs.start_run(session, "bench", None))


@dataclass(slots=True)
class FamilyResult:
    name: str
    pairs: int
    linked: int = 0
    wrong: int = 0  # linked, but to another article than its original
    sims: list[float] = field(default_factory=list)
    goal: float | None = None
    note: str = ""

    @property
    def recall(self) -> float:
        return self.linked / self.pairs if self.pairs else 0.0


@dataclass(slots=True)
class NegativeResult:
    name: str
    pairs: int
    merged: int
    max_similarity: float
    note: str = ""


@dataclass(slots=True)
class RealPair:
    story: str
    label: str
    words: tuple[int, int]
    similarity: float
    linked: bool
    expected: str


Perturb = Callable[[str, int], str]

POSITIVES: list[tuple[str, Perturb, float | None, str]] = [
    ("syndicated (wire lines, curly quotes)", fx.syndicated, GOAL_SYNDICATED, ""),
    ("edit 5 % (phrases of 4 words)", lambda t, s: fx.edited(t, 0.05, s), GOAL_EDITS, ""),
    ("edit 15 % (phrases of 4 words)", lambda t, s: fx.edited(t, 0.15, s), GOAL_EDITS, ""),
    ("update (+120 words appended)", fx.updated, GOAL_EDITS, ""),
    ("truncated to 60 %", lambda t, s: fx.truncated(t), GOAL_EDITS, ""),
    (
        "edit 5 % scattered single words",
        lambda t, s: fx.edited(t, 0.05, s, run=1),
        None,
        "outside the goals",
    ),
    (
        "edit 15 % scattered single words",
        lambda t, s: fx.edited(t, 0.15, s, run=1),
        None,
        "outside the goals",
    ),
]
SAME_EVENT_LEAD = fx.same_event(0).split("\n\n", 1)[0]
SHARED_STATEMENT = fx.article(424_242, 60).replace("\n\n", " ")


def original_time(i: int) -> datetime:
    return DAY - timedelta(hours=2 * (i % 240))  # 20 days: every original is a candidate


def quality(
    bodies: Sequence[Body], recaptured: Sequence[tuple[Body, Body]], root: Path, work: Path
) -> None:
    started = time.perf_counter()
    originals = [
        make_page(f"https://orig.example/{i}", b.text, original_time(i))
        for i, b in enumerate(bodies)
    ]
    base = fresh_sqlite(work, "originals.db")
    for page in originals:
        base.store(page)
    links = base.links()
    ids = {i: links[f"https://orig.example/{i}"][0] for i in range(len(bodies))}
    sigs = [p.article.minhash for p in originals if p.article is not None]
    n = len(bodies)
    negatives = [
        NegativeResult(
            "different corpus articles (all pairs)",
            n * (n - 1) // 2,
            sum(1 for i in range(n) if links[f"https://orig.example/{i}"][1] is not None),
            max_pair_similarity(sigs),
        )
    ]

    results: list[FamilyResult] = []
    for index, (name, perturb, goal, note) in enumerate(POSITIVES):
        db = clone_sqlite(work, base, f"family{index}.db")
        result = FamilyResult(name, n, goal=goal, note=note)
        for i, body in enumerate(bodies):
            copy = make_page(
                f"https://copy.example/{index}/{i}",
                perturb(body.text, 1000 + i),
                original_time(i) + timedelta(hours=2),
            )
            assert copy.article is not None
            result.sims.append(similarity(sigs[i], copy.article.minhash))
            db.store(copy)
        stored = db.links()
        for i in range(n):
            article_id, duplicate_of = stored[f"https://copy.example/{index}/{i}"]
            if article_id == ids[i] or duplicate_of == ids[i]:
                result.linked += 1  # an exact copy is stored as an alias of the original
            elif duplicate_of is not None:
                result.wrong += 1
        results.append(result)

    negative_families: list[tuple[str, Callable[[str], str], str]] = [
        ("different articles + same site footer", fx.with_footer, "with_footer on both"),
        (
            "same event, shared lead sentence",
            lambda t: SAME_EVENT_LEAD + "\n\n" + t,
            "fx.same_event's lead on real bodies",
        ),
        (
            "same event, shared 60-word statement",
            lambda t: SHARED_STATEMENT + "\n\n" + t,
            "extra, harder",
        ),
    ]
    for index, (name, make, note) in enumerate(negative_families):
        db = fresh_sqlite(work, f"negative{index}.db")
        pages = [
            make_page(f"https://neg.example/{index}/{i}", make(b.text), original_time(i))
            for i, b in enumerate(bodies)
        ]
        for page in pages:
            db.store(page)
        stored = db.links()
        merged = sum(
            1 for i in range(n) if stored[f"https://neg.example/{index}/{i}"][1] is not None
        )
        neg_sigs = [p.article.minhash for p in pages if p.article is not None]
        negatives.append(
            NegativeResult(name, n * (n - 1) // 2, merged, max_pair_similarity(neg_sigs), note)
        )
    dispose_engines()

    real = real_pairs(root, work, recaptured)
    for pair in real:
        if pair.expected == "not linked":
            negatives.append(
                NegativeResult(
                    f"real pair {pair.story}",
                    1,
                    int(pair.linked),
                    pair.similarity,
                    "web/syndicated, labelled non-duplicate",
                )
            )
    print_quality(results, negatives, real, time.perf_counter() - started)


def real_pairs(root: Path, work: Path, recaptured: Sequence[tuple[Body, Body]]) -> list[RealPair]:
    """The web/syndicated stories, extracted by the product, and the corpus URLs captured twice
    (ground-truth bodies, stored under two URLs so that the content layer decides): the first
    member stored, then the second."""
    out: list[RealPair] = []
    for story_file in sorted((root / "web" / "syndicated").glob("*/STORY.json")):
        story = json.loads(story_file.read_text("utf-8"))
        relation = str(story.get("relation") or "")
        if relation.startswith("near-duplicate"):
            label, expected = "near-duplicate", "linked"
        elif relation.startswith("same event"):
            label, expected = "same event, not a duplicate", "not linked"
        else:
            label, expected = "same wire story, two editions", "either (no goal)"
        arts = []
        for member in story["members"]:
            html = (story_file.parent / member["file"]).read_bytes()
            result = extract_page(PageInput(member["url"], html))
            if result.article is None:
                raise SystemExit(f"{story_file.parent.name}: {result.reason} {result.detail}")
            arts.append(result.article)
        linked = _store_pair(work, len(out), arts[0], arts[1])
        out.append(_real_pair(str(story["story"]), label, arts[0], arts[1], linked, expected))
    for old, new in recaptured:
        arts = [
            probe_article(f"https://recaptured.example/{body.key}", body.text, DAY)
            for body in (old, new)
        ]
        linked = _store_pair(work, len(out), arts[0], arts[1])
        label = "same URL captured twice"
        name = f"{old.key} / {new.key[-10:]}"
        out.append(_real_pair(name, label, arts[0], arts[1], linked, "linked"))
    return out


def _store_pair(work: Path, index: int, first: ExtractedArticle, second: ExtractedArticle) -> bool:
    """Store ``first`` then ``second`` (dates forced 2 hours apart: this measures the content
    decision, not the dates); whether the second was linked to the first."""
    first = replace(first, published_at=DAY)
    second = replace(second, published_at=DAY + timedelta(hours=2))
    db = fresh_sqlite(work, f"real{index}.db")
    db.store(page_of(first, DAY))
    db.store(page_of(second, DAY + timedelta(hours=2)))
    stored = db.links()
    dispose_engines()
    first_id = stored[first.canonical_url][0]
    second_id, duplicate_of = stored[second.canonical_url]
    return duplicate_of == first_id or second_id == first_id


def _real_pair(
    story: str,
    label: str,
    first: ExtractedArticle,
    second: ExtractedArticle,
    linked: bool,
    expected: str,
) -> RealPair:
    words = (first.word_count, second.word_count)
    return RealPair(
        story, label, words, similarity(first.minhash, second.minhash), linked, expected
    )


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_quality(
    results: Sequence[FamilyResult],
    negatives: Sequence[NegativeResult],
    real: Sequence[RealPair],
    seconds: float,
) -> None:
    print("\nPositives: copy stored after its original; recall = copy linked to its original")
    print(
        f"{'family':<36} {'pairs':>5} {'linked':>6} {'wrong':>5} {'recall':>6} {'goal':>7}"
        f"  {'est. J min / p5 / median':>24}  {'J>=0.5':>6}"
    )
    for r in results:
        sims = np.asarray(r.sims)
        goal = f">={r.goal:.2f}" if r.goal is not None else "-"
        verdict = "" if r.goal is None else _verdict(r.recall >= r.goal)
        above = int(np.count_nonzero(sims >= THRESHOLD))
        print(
            f"{r.name:<36} {r.pairs:>5} {r.linked:>6} {r.wrong:>5} {r.recall:>6.3f} {goal:>7}"
            f"  {sims.min():>6.3f} / {np.percentile(sims, 5):.3f} / {np.median(sims):.3f}"
            f"  {above:>6}  {verdict}{'  (' + r.note + ')' if r.note else ''}"
        )
    print("\nNegatives: different articles that must stay apart (goal: zero false merges)")
    print(f"{'family':<42} {'pairs':>6} {'merged':>6} {'max est. J':>10}")
    total = 0
    for neg in negatives:
        total += neg.merged
        note = f"  ({neg.note})" if neg.note else ""
        print(f"{neg.name:<42} {neg.pairs:>6} {neg.merged:>6} {neg.max_similarity:>10.3f}{note}")
    wrong = sum(r.wrong for r in results)
    total += wrong
    print(f"{'copies linked to a wrong original':<42} {'':>6} {wrong:>6}")
    print(f"false merges in total: {total}  (goal 0: {_verdict(total == 0)})")
    print(
        "\nReal pairs (web/syndicated: extracted with tasks.extract.extract.extract_page; taz: the"
        " ground-truth bodies of one URL captured in 2023 and 2024):"
    )
    print(f"{'story':<32} {'label':<30} {'words':>11} {'est. J':>6} {'linked':>6}  expected")
    for p in real:
        words = f"{p.words[0]}/{p.words[1]}"
        linked = "yes" if p.linked else "no"
        print(
            f"{p.story:<32} {p.label:<30} {words:>11} {p.similarity:>6.3f} {linked:>6}  "
            f"{p.expected}"
        )
    print(f"(quality section: {seconds:.1f} s)")


# --------------------------------------------------------------------------------------------
# Lookup cost


@dataclass(frozen=True, slots=True)
class Rows:
    """A batch of articles rows and their band rows, dialect-neutral."""

    ids: I64
    published: list[datetime]
    minhash: list[bytes]
    texts: list[str]
    bands: I64  # (rows, BANDS)


@dataclass(frozen=True, slots=True)
class Probe:
    kind: str  # "copy" | "unseen" | "series"
    article: ExtractedArticle
    expect: frozenset[int] = frozenset()  # a copy's acceptable matches

    def right(self, match: tuple[int, float] | None) -> bool | None:
        """Whether the lookup decided right (None: not checked, for series probes)."""
        if self.kind == "copy":
            return match is not None and match[0] in self.expect
        if self.kind == "unseen":
            return match is None
        return None


# A recurring template story (a daily market report, the weather): 1 filler row in SERIES_EVERY
# is an edit of one of SERIES texts, published over the whole year like the rest, so the rows a
# probe shares bands with grow with the stored history while those inside the window do not.
SERIES, SERIES_EVERY = 20, 200


def series_text(series: int) -> str:
    return fx.article(300_000 + series, 300)


@functools.cache
def series_member(ident: int) -> tuple[str, bytes, tuple[int, ...]]:
    text = fx.edited(series_text((ident // SERIES_EVERY) % SERIES), 0.05, ident)
    sig = signature(text)
    return text, sig, tuple(band_hashes(sig))


@dataclass(slots=True)
class Fixture:
    """The realistic part of the cost data set and the probes, shared by both dialects."""

    real: Rows
    rounds: list[list[Probe]]  # each round: fresh probes (new edits), in random order
    warmup: list[Probe]  # self-written pseudo-articles, not timed
    now: datetime


def build_fixture(bodies: Sequence[Body], rounds: int) -> Fixture:
    """Corpus articles (4 of every 5) stored as small story clusters published in the last 20
    days (original, syndicated copy, 5 % edit, update) plus one copy published 60-365 days ago
    (outside the window); probes dated now, new in every round: a 10 % edit of every stored story
    (must match one of its in-window members) and three variants of every held-out article
    (must match nothing); and an edit of every template series (see SERIES_EVERY)."""
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    ids: list[int] = []
    published: list[datetime] = []
    sigs: list[bytes] = []
    texts: list[str] = []
    stored: list[tuple[Body, list[int]]] = []
    held_out: list[Body] = []
    for i, body in enumerate(bodies):
        if i % 5 == 4:
            held_out.append(body)
            continue
        members = []
        variants = [
            (body.text, 0.0),
            (fx.syndicated(body.text, i), 0.1),
            (fx.edited(body.text, 0.05, i), 0.2),
            (fx.updated(body.text, i), 0.3),
        ]
        age = float(rng.uniform(1, 20))
        for text, delay in variants:
            ids.append(len(ids) + 1)
            members.append(ids[-1])
            published.append(now - timedelta(days=age - delay))
            sigs.append(signature(text))
            texts.append(text)
        ids.append(len(ids) + 1)
        published.append(now - timedelta(days=float(rng.uniform(60, 365))))
        text = fx.syndicated(body.text, i + 500)
        sigs.append(signature(text))
        texts.append(text)
        stored.append((body, members))
    real = Rows(
        ids=np.asarray(ids, dtype=np.int64),
        published=published,
        minhash=sigs,
        texts=texts,
        bands=np.asarray([band_hashes(s) for s in sigs], dtype=np.int64),
    )
    probe_rounds = []
    for r in range(rounds):
        probes: list[Probe] = []
        for k, (body, members) in enumerate(stored):
            text = fx.edited(body.text, 0.10, 90_000 + 1000 * r + k)
            art = probe_article(f"https://probe.example/{r}/c{k}", text, now)
            probes.append(Probe("copy", art, frozenset(members)))
        for k, body in enumerate(held_out):
            seed = 70_000 + 1000 * r + k
            unseen = [
                fx.edited(body.text, 0.02, seed),
                fx.edited(body.text, 0.05, seed),
                fx.syndicated(body.text, seed),
            ]
            for j, text in enumerate(unseen):
                art = probe_article(f"https://probe.example/{r}/n{k}/{j}", text, now)
                probes.append(Probe("unseen", art))
        for k in range(SERIES):
            text = fx.edited(series_text(k), 0.05, 80_000 + 1000 * r + k)
            probes.append(
                Probe("series", probe_article(f"https://probe.example/{r}/s{k}", text, now))
            )
        probe_rounds.append([probes[int(i)] for i in rng.permutation(len(probes))])
    warmup = [
        Probe("unseen", probe_article(f"https://warmup.example/{k}", fx.article(60_000 + k), now))
        for k in range(20)
    ]
    return Fixture(real, probe_rounds, warmup, now)


def probe_article(url: str, text: str, when: datetime) -> ExtractedArticle:
    page = make_page(url, text, when)
    assert page.article is not None
    return page.article


def filler(start: int, stop: int, now: datetime) -> Rows:
    """Articles ids start..stop-1 with random signatures published over the last 365 days (and
    every SERIES_EVERY-th an edit of a template series, with its real signature).

    Their band hashes are random 64-bit values: the band hash of a random signature is exactly
    that (blake2b of random rows), without 32 Python blake2b calls per row."""
    rng = np.random.default_rng(start)
    count = stop - start
    raw = rng.integers(0, 2**32, size=(count, NUM_PERM), dtype=np.uint32).astype("<u4").tobytes()
    size = NUM_PERM * 4
    ages = rng.uniform(0, 365 * 86_400, size=count)
    rows = Rows(
        ids=np.arange(start, stop, dtype=np.int64),
        published=[now - timedelta(seconds=float(a)) for a in ages],
        minhash=[raw[i * size : (i + 1) * size] for i in range(count)],
        texts=[f"Filler article {i}." for i in range(start, stop)],
        bands=rng.integers(-(2**63), 2**63 - 1, size=(count, BANDS), dtype=np.int64),
    )
    for ident in range(start + (-start) % SERIES_EVERY, stop, SERIES_EVERY):
        i = ident - start
        rows.texts[i], rows.minhash[i], bands = series_member(ident)
        rows.bands[i] = bands
    return rows


def band_rows(rows: Rows) -> tuple[I64, I64, I64]:
    """(band, hash, article_id) of all band rows, sorted by the primary key (band, hash, id) so
    the index inserts of one chunk walk the B-tree once."""
    count = len(rows.ids)
    band = np.tile(np.arange(BANDS, dtype=np.int64), count)
    hashes = rows.bands.reshape(-1)
    article = np.repeat(rows.ids, BANDS)
    order = np.lexsort((article, hashes, band))
    return band[order], hashes[order], article[order]


def article_values(rows: Rows, i: int) -> tuple[int, str, str, str, str, int, bytes]:
    ident = int(rows.ids[i])
    url = f"https://site{ident % 997}.example/news/{ident}"
    text = rows.texts[i]
    digest = hashlib.sha256(f"{ident}:{text}".encode()).hexdigest()
    return ident, url, url, digest, text, len(text.split()), rows.minhash[i]


class Loader:
    """Bulk paths into a migrated database, one dialect each."""

    name = ""

    def __init__(self, url: str, source_id: int, run_id: int) -> None:
        self.url, self.source_id, self.run_id = url, source_id, run_id

    def load(self, batches: Iterator[Rows]) -> None:
        raise NotImplementedError

    def finish(self) -> str:
        """Post-load maintenance; a note on what was done."""
        return ""

    def explain(self, statement: str, parameters: Any) -> list[str]:
        raise NotImplementedError

    def bands_mb(self) -> float | None:
        """Size of minhash_bands with its indexes, if the dialect can tell."""
        return None


class SQLiteLoader(Loader):
    name = "SQLite"

    def load(self, batches: Iterator[Rows]) -> None:
        dispose_engines()
        conn = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-2000000")  # 2 GB of page cache during the load
            conn.execute("BEGIN")
            for rows in batches:
                conn.executemany(
                    "INSERT INTO articles (id, source_id, ingest_run_id, url, canonical_url,"
                    " content_hash, text, word_count, published_at, fetched_at, created_at,"
                    " minhash, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    self._articles(rows),
                )
                band, hashes, article = band_rows(rows)
                conn.executemany(
                    "INSERT INTO minhash_bands (band, hash, article_id) VALUES (?, ?, ?)",
                    zip(band.tolist(), hashes.tolist(), article.tolist(), strict=True),
                )
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def finish(self) -> str:
        os.sync()
        return "WAL checkpointed and synced after the load; no ANALYZE (the product runs none)"

    def _articles(self, rows: Rows) -> Iterator[tuple[Any, ...]]:
        for i in range(len(rows.ids)):
            ident, url, canonical, digest, text, words, sig = article_values(rows, i)
            when = rows.published[i].astimezone(UTC).strftime(SQLITE_DATETIME)
            yield (
                ident,
                self.source_id,
                self.run_id,
                url,
                canonical,
                digest,
                text,
                words,
                when,
                when,
                when,
                sig,
                when,
            )

    def explain(self, statement: str, parameters: Any) -> list[str]:
        conn = sqlite3.connect(make_url(self.url).database or "")
        try:
            plan = conn.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        finally:
            conn.close()
        return [f"{row[0]:>3} {row[1]:>3}  {row[3]}" for row in plan]

    def bands_mb(self) -> float | None:
        conn = sqlite3.connect(make_url(self.url).database or "")
        try:  # the dbstat table exists only when SQLite was compiled with it
            row = conn.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name IN ('minhash_bands',"
                " 'ix_minhash_bands_article_id') OR name LIKE 'sqlite_autoindex_minhash_bands%'"
            ).fetchone()
        except sqlite3.Error:
            return None
        finally:
            conn.close()
        return float(row[0]) / 1e6 if row and row[0] else None


def _pg_binary_bands(band: I64, hashes: I64, article: I64) -> bytes:
    """COPY BINARY rows (smallint, bigint, bigint), built with numpy."""
    dtype = np.dtype(
        [
            ("fields", ">i2"),
            ("l1", ">i4"),
            ("band", ">i2"),
            ("l2", ">i4"),
            ("hash", ">i8"),
            ("l3", ">i4"),
            ("article", ">i8"),
        ]
    )
    out = np.empty(len(band), dtype=dtype)
    out["fields"], out["l1"], out["l2"], out["l3"] = 3, 2, 8, 8
    out["band"], out["hash"], out["article"] = band, hashes, article
    return out.tobytes()


PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
PG_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresLoader(Loader):
    name = "PostgreSQL"

    def load(self, batches: Iterator[Rows]) -> None:
        with psycopg.connect(libpq_url(self.url)) as conn, conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
            try:  # bulk-load without the per-row foreign-key triggers (superuser only)
                cur.execute("SET session_replication_role = replica")
            except psycopg.Error:
                conn.rollback()
            last = 0
            for rows in batches:
                with cur.copy(
                    "COPY articles (id, source_id, ingest_run_id, url, canonical_url,"
                    " content_hash, text, word_count, published_at, fetched_at, created_at,"
                    " minhash, checked_at) FROM STDIN"
                ) as copy:
                    for i in range(len(rows.ids)):
                        ident, url, canonical, digest, text, words, sig = article_values(rows, i)
                        when = rows.published[i]
                        copy.write_row(
                            (
                                ident,
                                self.source_id,
                                self.run_id,
                                url,
                                canonical,
                                digest,
                                text,
                                words,
                                when,
                                when,
                                when,
                                sig,
                                when,
                            )
                        )
                with cur.copy(
                    "COPY minhash_bands (band, hash, article_id) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(PG_COPY_HEADER + _pg_binary_bands(*band_rows(rows)))
                    copy.write(PG_COPY_TRAILER)
                last = max(last, int(rows.ids.max()))
            cur.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), %s)", (last,))
            conn.commit()

    def finish(self) -> str:
        with psycopg.connect(libpq_url(self.url), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) articles")
            conn.execute("VACUUM (ANALYZE) minhash_bands")
            conn.execute("CHECKPOINT")
        os.sync()
        return (
            "VACUUM (ANALYZE) after the load, as autovacuum would in steady state, then"
            " CHECKPOINT and sync so the load's writeback does not disturb the lookups"
        )

    def explain(self, statement: str, parameters: Any) -> list[str]:
        with get_engine(self.url).connect() as conn:
            rows = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
            ).all()
        return [str(row[0]) for row in rows]

    def bands_mb(self) -> float | None:
        with psycopg.connect(libpq_url(self.url)) as conn:
            row = conn.execute("SELECT pg_total_relation_size('minhash_bands')").fetchone()
        return float(row[0]) / 1e6 if row else None


@dataclass(slots=True)
class Lookup:
    kind: str
    ms: float
    candidates: int  # handed to the matcher (inside the window)
    right: bool | None


@dataclass(slots=True)
class Figures:
    """Latency of one kind of probe at one size: medians over the rounds of p50 and p95."""

    p50_ms: float
    p95_ms: float
    p95_best_ms: float  # the quietest round (least disturbed by other work on the machine)
    max_ms: float
    rounds: list[tuple[float, float]]
    candidates: float
    right: int
    checked: int
    probes: int

    @classmethod
    def of(cls, rounds: Sequence[Sequence[Lookup]]) -> Figures:
        per_round = [
            (
                float(np.percentile([x.ms for x in r], 50)),
                float(np.percentile([x.ms for x in r], 95)),
            )
            for r in rounds
        ]
        every = [x for r in rounds for x in r]
        return cls(
            p50_ms=float(np.median([p50 for p50, _ in per_round])),
            p95_ms=float(np.median([p95 for _, p95 in per_round])),
            p95_best_ms=min(p95 for _, p95 in per_round),
            max_ms=max(x.ms for x in every),
            rounds=per_round,
            candidates=float(np.mean([x.candidates for x in every])),
            right=sum(1 for x in every if x.right),
            checked=sum(1 for x in every if x.right is not None),
            probes=len(every),
        )


@dataclass(slots=True)
class Measurement:
    dialect: str
    size: int
    build_seconds: float
    maintenance_seconds: float
    in_window: int
    disk_mb: float
    bands_mb: float | None
    load_average: float  # 1-minute load average when the lookups started (others' work)
    main: Figures  # copies of stored stories and unseen articles
    series: Figures  # edits of a recurring template story
    series_outside: Figures  # the same with a 0-day window (only rows outside the window)
    series_band_hits: float  # articles sharing a band with a series probe, any date


def timed_lookups(
    url: str, probes: Sequence[Probe], warmup: Sequence[Probe] = (), window: timedelta = WINDOW
) -> list[Lookup]:
    candidates: list[int] = []

    def matcher(sig: bytes, found: Sequence[tuple[int, bytes]]) -> tuple[int, float] | None:
        candidates.append(len(found))
        return best_match(sig, found, THRESHOLD)

    near = articles.NearDup(matcher=matcher, window=window)
    for probe in warmup:  # engine, pool and statement caches: the DB setup
        with snapshot(url) as session:
            articles.find_near_duplicate(session, probe.article, near)
    out = []
    for probe in probes:
        candidates.clear()
        start = time.perf_counter()
        with snapshot(url) as session:
            match = articles.find_near_duplicate(session, probe.article, near)
        ms = (time.perf_counter() - start) * 1000
        out.append(Lookup(probe.kind, ms, sum(candidates), probe.right(match)))
    return out


def band_hits(url: str, article: ExtractedArticle) -> int:
    """Stored articles sharing at least one band with ``article``, whatever their date."""
    bands = or_(
        *(and_(MinhashBand.band == i, MinhashBand.hash == h) for i, h in enumerate(article.bands))
    )
    with transaction(url) as session:
        query = select(func.count(func.distinct(MinhashBand.article_id))).where(bands)
        return int(session.execute(query).scalar_one())


@contextmanager
def captured_lookup(url: str) -> Iterator[list[tuple[str, Any]]]:
    """The SQL of the near-duplicate query as the product sends it (for EXPLAIN)."""
    seen: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if "minhash_bands" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen[:] = [(statement, parameters)]

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def disk_mb(loader: Loader) -> float:
    if isinstance(loader, SQLiteLoader):
        path = Path(make_url(loader.url).database or "")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    with psycopg.connect(libpq_url(loader.url)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return float(row[0]) / 1e6 if row else 0.0


def cost(loader: Loader, fixture: Fixture, sizes: Sequence[int]) -> list[Measurement]:
    """Grow one database through ``sizes`` (the real rows first, filler after) and time lookups
    at each size."""
    out: list[Measurement] = []
    loaded = 0
    real_count = len(fixture.real.ids)
    explained: list[list[str]] = [[], []]
    for size in sizes:
        if size < real_count:
            raise SystemExit(f"size {size} is below the {real_count} corpus-derived rows")

        def batches(start: int, stop: int) -> Iterator[Rows]:
            if start == 0:
                yield fixture.real
                start = real_count + 1
            else:
                start += 1
            for first in range(start, stop + 1, CHUNK):
                yield filler(first, min(first + CHUNK, stop + 1), fixture.now)

        started = time.perf_counter()
        loader.load(batches(loaded, size))
        build = time.perf_counter() - started
        started = time.perf_counter()
        note = loader.finish()
        maintenance = time.perf_counter() - started
        loaded = size
        in_window = count_in_window(loader.url, fixture.now)
        load_average = os.getloadavg()[0]
        rounds = [
            timed_lookups(loader.url, probes, () if index else fixture.warmup)
            for index, probes in enumerate(fixture.rounds)
        ]
        # The same template-series probes with a 0-day window: no candidate survives the date
        # filter, so what remains is the cost of the band hits outside the window.
        outside = [
            timed_lookups(loader.url, [p for p in r if p.kind == "series"], window=timedelta(0))
            for r in fixture.rounds
        ]
        series = [p.article for p in fixture.rounds[0] if p.kind == "series"]
        plans = []
        for kind in ("copy", "series"):  # a copy: the plan includes the verification
            with captured_lookup(loader.url) as seen:
                probe = next(p for p in fixture.rounds[0] if p.kind == kind)
                with snapshot(loader.url) as session:
                    articles.find_near_duplicate(session, probe.article, NEAR)
            plans.append(seen[0] if seen else None)
        m = Measurement(
            dialect=loader.name,
            size=size,
            build_seconds=build,
            maintenance_seconds=maintenance,
            in_window=in_window,
            disk_mb=disk_mb(loader),
            bands_mb=loader.bands_mb(),
            load_average=load_average,
            main=Figures.of([[x for x in r if x.kind != "series"] for r in rounds]),
            series=Figures.of([[x for x in r if x.kind == "series"] for r in rounds]),
            series_outside=Figures.of(outside),
            series_band_hits=float(np.mean([band_hits(loader.url, a) for a in series])),
        )
        out.append(m)
        print_measurement(m, note)
        explained = [
            [_clip(f"    {line}") for line in loader.explain(*plan)] if plan else []
            for plan in plans
        ]
    if note:
        print(f"  ({loader.name}: {note})")
    copy_plan, series_plan = explained
    if copy_plan:
        print(f"  {loader.name} plan of the lookup for a copy at {sizes[-1]:,} articles:")
        print("\n".join(_condense(copy_plan)))
    if series_plan and any("actual" in line for line in series_plan):
        print(f"  {loader.name} plan of the lookup for a template-series edit (same shape):")
        print(
            "\n".join(
                line
                for line in _condense(series_plan)
                if "Index Scan" in line
                or "Filter" in line
                or "Time" in line
                or "Heap Scan" in line
                or "Nested Loop" in line
                or "Aggregate" in line
            )
        )
    return out


def print_measurement(m: Measurement, note: str) -> None:
    bands = f" (band table {m.bands_mb:,.0f} MB)" if m.bands_mb is not None else ""
    print(
        f"  {m.dialect} with {m.size:,} articles: load {m.build_seconds:.1f} s"
        f"{f' + {m.maintenance_seconds:.1f} s maintenance' if note else ''}; {m.disk_mb:,.0f} MB"
        f"{bands}; {m.in_window:,} articles in the 30-day window; load average"
        f" {m.load_average:.2f}",
        flush=True,
    )
    for name, f in (
        ("copies + unseen", m.main),
        ("template series", m.series),
        ("series, 0-d window", m.series_outside),
    ):
        rounds = ", ".join(f"{p50:.2f}/{p95:.2f}" for p50, p95 in f.rounds)
        checked = f"; {f.right}/{f.checked} decisions right" if f.checked else ""
        hits = (
            f"; {m.series_band_hits:.0f} articles share a band (any date)"
            if name.startswith(("template", "series"))
            else ""
        )
        print(
            f"    {name:<18} p50 {f.p50_ms:.2f} ms, p95 {f.p95_ms:.2f} ms, max {f.max_ms:.2f} ms"
            f" ({f.probes} lookups; p50/p95 per round: {rounds}); {f.candidates:.1f}"
            f" candidates in the window{hits}{checked}",
            flush=True,
        )


def _condense(lines: list[str]) -> list[str]:
    """EXPLAIN output with repeated blocks (one per band: same shape, other values) folded."""
    shapes = [_shape(line) for line in lines]
    nodes = any("->" in line for line in lines)  # PostgreSQL: a block starts at a plan node
    out: list[str] = []
    i = 0
    while i < len(lines):
        for period in (1, 2, 3, 4):
            block = shapes[i : i + period]
            repeats = 1
            while shapes[i + repeats * period : i + (repeats + 1) * period] == block:
                repeats += 1
            if repeats >= 3 and (not nodes or "->" in lines[i]):
                out += lines[i : i + period]
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                out.append(f"{indent}... ({repeats - 1} more like the above, one per band)")
                i += repeats * period
                break
        else:
            out.append(lines[i])
            i += 1
    return out


def _clip(line: str, width: int = 160) -> str:
    return line if len(line) <= width else line[: width - 5] + " ..."


def _shape(line: str) -> str:
    """A plan line without its numbers (values, rows, timings)."""
    return " ".join(re.sub(r"\(actual[^)]*\)|'[^']*'|-?\d+(\.\d+)?", "#", line).split())


def count_in_window(url: str, now: datetime) -> int:

    with transaction(url) as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(Article)
                .where(Article.published_at >= now - WINDOW)
            ).scalar_one()
        )


def source_and_run(url: str) -> tuple[int, int]:
    with transaction(url) as session:
        run_id = runs.start_run(session, "bench", None)
    with transaction(url) as session:
        source_id = session.execute(select(Source.id).where(Source.name == "bench")).scalar_one()
    return source_id, run_id


@contextmanager
def postgres_database(admin: str) -> Iterator[str]:
    name = f"newsflow_bench_{uuid.uuid4().hex[:12]}"
    admin_libpq = libpq_url(admin)
    with psycopg.connect(admin_libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with psycopg.connect(admin_libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_cost(results: Sequence[Measurement], sizes: Sequence[int]) -> None:
    print("\nLookup cost summary (articles.find_near_duplicate, warm OS cache, ms; p50/p95 are")
    print("medians over the rounds of fresh probes, best = p95 of the quietest round):")
    print(
        f"{'dialect':<11} {'articles':>10} {'load s':>7} {'MB':>6}   {'p50':>5} {'p95':>5}"
        f" {'best':>5} {'max':>6}   {'series p50':>10} {'p95':>5} {'cands':>5} {'band hits':>9}"
        f"   {'0-d window p50':>14} {'p95':>5}"
    )
    for m in results:
        print(
            f"{m.dialect:<11} {m.size:>10,} {m.build_seconds + m.maintenance_seconds:>7.1f}"
            f" {m.disk_mb:>6,.0f}   {m.main.p50_ms:>5.2f} {m.main.p95_ms:>5.2f}"
            f" {m.main.p95_best_ms:>5.2f} {m.main.max_ms:>6.2f}"
            f"   {m.series.p50_ms:>10.2f} {m.series.p95_ms:>5.2f}"
            f" {m.series.candidates:>5.1f} {m.series_band_hits:>9.0f}"
            f"   {m.series_outside.p50_ms:>14.2f} {m.series_outside.p95_ms:>5.2f}"
        )
    for dialect in dict.fromkeys(m.dialect for m in results):
        by_size = {m.size: m for m in results if m.dialect == dialect}
        small, large = by_size.get(sizes[0]), by_size.get(sizes[-1])
        if small and large and small is not large:
            ratio = large.main.p95_ms / small.main.p95_ms
            best = large.main.p95_best_ms / small.main.p95_best_ms
            series = large.series.p95_ms / small.series.p95_ms
            outside = large.series_outside.p95_ms / small.series_outside.p95_ms
            print(
                f"{dialect}: p95({large.size:,})/p95({small.size:,}) = {ratio:.2f}"
                f" (quietest rounds: {best:.2f}; goal <= {GOAL_RATIO:.0f}:"
                f" {_verdict(ratio <= GOAL_RATIO)}); template-series probes: {series:.2f},"
                f" with a 0-day window: {outside:.2f}"
            )


def run_cost(
    bodies: Sequence[Body], sizes: Sequence[int], admin: str | None, work: Path, rounds: int
) -> None:
    started = time.perf_counter()
    fixture = build_fixture(bodies, rounds)
    counts = Counter(p.kind for p in fixture.rounds[0])
    kinds = ", ".join(
        f"{counts[kind]} {name}"
        for kind, name in (
            ("copy", "copies of stored stories"),
            ("unseen", "unseen articles"),
            ("series", "template-series edits"),
        )
    )
    print(
        f"  fixture: {len(fixture.real.ids):,} corpus-derived rows (story clusters in the last 20"
        f" days + one old copy each); {len(fixture.rounds)} rounds of"
        f" {len(fixture.rounds[0])} fresh probes dated now ({kinds}); built in"
        f" {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    results: list[Measurement] = []
    url = f"sqlite:///{work / 'cost.db'}"
    upgrade(url)
    results += cost(SQLiteLoader(url, *source_and_run(url)), fixture, sizes)
    dispose_engines()
    for path in work.glob("cost.db*"):
        path.unlink()
    if admin is not None:
        try:
            with postgres_database(admin) as pg:
                upgrade(pg)
                results += cost(PostgresLoader(pg, *source_and_run(pg)), fixture, sizes)
        except psycopg.OperationalError as exc:
            print(f"  PostgreSQL skipped: {exc}")
    print_cost(results, sizes)
    print(f"(cost section: {time.perf_counter() - started:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 2000,20000, 2 rounds, quality on every 2nd corpus body",
    )
    parser.add_argument("--sizes", default=None, help="stored articles, e.g. 10000,1000000")
    parser.add_argument("--pg-url", default=PG_ADMIN, help="admin URL (database `postgres`)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--part", choices=["all", "quality", "cost"], default="all")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of fresh probes (5)")
    args = parser.parse_args()
    sizes = sorted(
        int(s) for s in (args.sizes or ("2000,20000" if args.quick else "10000,1000000")).split(",")
    )
    rounds = args.rounds or (2 if args.quick else 5)
    root = corpus_root()
    corpus = load_corpus(root)
    labelled = corpus.bodies[::2] if args.quick else corpus.bodies
    print(
        f"newsflow near-duplicate benchmark: MinHash {NUM_PERM} perms, word 3-shingles, LSH"
        f" {BANDS} bands x {ROWS} rows, verified at J >= {THRESHOLD}, window {WINDOW.days} days"
    )
    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()}"
        f" CPUs; corpus {root}: {corpus.pages} pages ({corpus.from_extraction_dev}"
        f" extraction-dev + {corpus.fundus_only} fundus-only), {len(corpus.bodies)} bodies >="
        f" {MIN_WORDS} words"
    )
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-dedup-") as tmp:
        work = Path(tmp)
        if args.part in ("all", "quality"):
            print("\n== 1. Quality (SQLite file, articles.store_pages with NearDup) ==")
            if args.quick:
                print(f"--quick: every 2nd body, {len(labelled)} originals")
            quality(labelled, corpus.recaptured, root, work)
        if args.part in ("all", "cost"):
            print(f"\n== 2. Lookup cost, sizes {', '.join(f'{s:,}' for s in sizes)} ==")
            run_cost(corpus.bodies, sizes, None if args.no_pg else args.pg_url, work, rounds)


if __name__ == "__main__":
    main()
