"""Extraction quality: newsflow's extract_page against plain trafilatura defaults, on the corpus.

Usage: .venv/bin/python bench/extraction.py [--limit N] [--worst K] [--misses] [--only NAME]

Body: corpus/extraction-dev (ScrapingHub article-extraction-benchmark layout) scored with that
benchmark's 4-token shingle metric. Metadata: corpus/fundus (title, publish day, authors).
Both extractors run in the same process, one after the other, on the same decoded pages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.extract.extract import PageInput, _trafilatura, extract_page  # noqa: E402
from tests.extraction_metric import (  # noqa: E402
    authors_f1,
    body_pages,
    corpus_prf,
    meta_pages,
    page_f1,
    same_day,
    same_title,
    shingle_score,
)

GOAL_F1 = 0.96


@dataclass(frozen=True)
class Meta:
    """What one extractor says about a page's metadata."""

    title: str | None
    day: date | None
    authors: tuple[str, ...]


def newsflow_body(url: str, html: bytes) -> str:
    article = extract_page(PageInput(url, html)).article
    return article.text if article else ""


def newsflow_meta(url: str, html: bytes) -> Meta:
    article = extract_page(PageInput(url, html)).article
    if article is None:
        return Meta(None, None, ())
    day = article.published_at.date() if article.published_at else None
    return Meta(article.title, day, article.authors)


def trafilatura_body(url: str, html: bytes) -> str:
    return str(_trafilatura().extract(html, url=url) or "")


def trafilatura_meta(url: str, html: bytes) -> Meta:
    doc = _trafilatura().bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return Meta(None, None, ())
    data = doc if isinstance(doc, dict) else doc.as_dict()
    try:
        day = datetime.fromisoformat(data["date"]).date() if data.get("date") else None
    except ValueError:
        day = None
    authors = tuple(a.strip() for a in (data.get("author") or "").split(";") if a.strip())
    return Meta(data.get("title"), day, authors)


EXTRACTORS: dict[str, tuple[Callable[[str, bytes], str], Callable[[str, bytes], Meta]]] = {
    "newsflow": (newsflow_body, newsflow_meta),
    "trafilatura": (trafilatura_body, trafilatura_meta),
}


def run_body(name: str, pages: list[tuple[str, str, bytes, str]]) -> dict[str, Any]:
    extract = EXTRACTORS[name][0]
    scores, per_page = [], {}
    start = time.perf_counter()
    for key, url, html, truth in pages:
        scores.append(shingle_score(truth, extract(url, html)))
        per_page[key] = page_f1(scores[-1])
    seconds = time.perf_counter() - start
    p, r, f1 = corpus_prf(scores)
    return {"p": p, "r": r, "f1": f1, "pps": len(pages) / seconds, "pages": per_page}


def run_meta(name: str, pages: list[tuple[str, str, bytes, dict[str, Any]]]) -> dict[str, Any]:
    extract = EXTRACTORS[name][1]
    titles, days, authors = [], [], []
    misses: list[str] = []
    start = time.perf_counter()
    for key, url, html, want in pages:
        got = extract(url, html)
        if want.get("title"):
            titles.append(same_title(want["title"], got.title))
            if not titles[-1]:
                misses.append(f"title   {key}: {got.title!r} != {want['title']!r}")
        if want.get("publishing_date"):
            days.append(same_day(want["publishing_date"], got.day))
            if not days[-1]:
                misses.append(f"date    {key}: {got.day} != {want['publishing_date']}")
        if want.get("authors"):
            authors.append(authors_f1(want["authors"], got.authors))
            if authors[-1] < 1:
                misses.append(f"authors {key}: {list(got.authors)} != {want['authors']}")
    seconds = time.perf_counter() - start
    return {
        "title": statistics.mean(titles or [0.0]),
        "date": statistics.mean(days or [0.0]),
        "authors": statistics.mean(authors or [0.0]),
        "counts": (len(titles), len(days), len(authors)),
        "pps": len(pages) / seconds,
        "misses": misses,
    }


def print_body(body: dict[str, dict[str, Any]], pages: int, worst: int) -> None:
    print(f"body: {pages} pages of extraction-dev (4-token shingles)")
    print(f"{'extractor':<12} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8}")
    for name, m in body.items():
        print(f"{name:<12} {m['p']:6.3f} {m['r']:6.3f} {m['f1']:6.3f} {m['pps']:8.1f}")
    first, *rest = body
    for key, f1 in sorted(body[first]["pages"].items(), key=lambda kv: kv[1])[:worst]:
        others = " ".join(f"{n}={body[n]['pages'][key]:.3f}" for n in rest)
        print(f"  worst {f1:.3f} {key} {others}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N pages of each corpus")
    parser.add_argument("--worst", type=int, default=0, help="list the K worst body pages")
    parser.add_argument("--misses", action="store_true", help="list the first extractor's misses")
    parser.add_argument("--only", choices=sorted(EXTRACTORS), help="run one extractor")
    parser.add_argument("--skip-meta", action="store_true", help="body benchmark only")
    parser.add_argument("--skip-body", action="store_true", help="metadata benchmark only")
    args = parser.parse_args()
    corpus = Path(os.environ.get("NEWSFLOW_CORPUS") or ROOT.parent / "shared" / "corpus")
    _trafilatura()  # imported once, outside the timings
    names = [args.only] if args.only else list(EXTRACTORS)
    bodies = [] if args.skip_body else body_pages(corpus)[: args.limit]
    body = {name: run_body(name, bodies) for name in names} if bodies else {}
    if body:
        print_body(body, len(bodies), args.worst)
    if not args.skip_meta:
        metas = meta_pages(corpus)[: args.limit]
        meta = {name: run_meta(name, metas) for name in names}
        n_title, n_date, n_authors = meta[names[0]]["counts"]
        print(f"\nmetadata: {len(metas)} fundus pages ({n_title} titles, {n_date} dates, "
              f"{n_authors} with authors)")  # fmt: skip
        print(f"{'extractor':<12} {'title':>6} {'date':>6} {'authors':>7} {'pages/s':>8}")
        for name, m in meta.items():
            print(f"{name:<12} {m['title']:6.3f} {m['date']:6.3f} {m['authors']:7.3f} "
                  f"{m['pps']:8.1f}")  # fmt: skip
        for row in meta[names[0]]["misses"] if args.misses else []:
            print(f"  miss {row}")
    if len(body) == 2:
        ours, theirs = body["newsflow"]["f1"], body["trafilatura"]["f1"]
        verdict = "goal met" if ours >= GOAL_F1 else "goal missed"
        print(f"\nbody F1 newsflow - trafilatura: {ours - theirs:+.3f}; "
              f"newsflow >= {GOAL_F1}: {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
