"""The extraction quality metrics shared by bench/extraction.py and tests/test_extract_quality.py.

Body: the ScrapingHub article-extraction-benchmark metric (tokens ``\\w+`` of the NFC text,
4-token shingles, per-page precision and recall, corpus P and R as means over pages, F1 of the
two means).
Metadata (fundus pages): title exact match, publish date same-day match, authors F1.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\w+")
Score = tuple[float, float, float]  # tp, fp, fn, normalized to sum 1


def shingle_counts(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Counts of the text's n-token shingles (one shorter shingle for texts under n tokens).
    The text is NFC-normalized first: ``\\w`` does not match combining marks, so a decomposed
    "ü" (u + U+0308) would split a word in two, and canonically equal texts must score equal."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFC", text or ""))
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def shingle_score(true: str, pred: str) -> Score:
    """(tp, fp, fn) over shingles, normalized to sum 1 so long pages weigh no more."""
    want, got = shingle_counts(true), shingle_counts(pred)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def page_f1(score: Score) -> float:
    tp, fp, fn = score
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def corpus_prf(scores: Iterable[Score]) -> tuple[float, float, float]:
    """Mean precision (pages with output), mean recall (pages with truth), F1 of the two means."""
    scores = list(scores)
    p = statistics.mean([precision(*s) for s in scores if s[0] + s[1] > 0] or [0.0])
    r = statistics.mean([recall(*s) for s in scores if s[0] + s[2] > 0] or [0.0])
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def body_pages(
    corpus: Path, keys: Iterable[str] | None = None
) -> list[tuple[str, str, bytes, str]]:
    """(id, url, html, expected body) of extraction-dev, sorted by id (all, or just ``keys``)."""
    base = corpus / "extraction-dev"
    truth = json.loads((base / "ground-truth.json").read_text("utf-8"))
    out = []
    for key in sorted(truth if keys is None else keys):
        html = gzip.decompress((base / "html" / f"{key}.html.gz").read_bytes())
        out.append((key, truth[key].get("url") or "", html, truth[key].get("articleBody") or ""))
    return out


def meta_pages(
    corpus: Path, keys: Iterable[str] | None = None
) -> list[tuple[str, str, bytes, dict[str, Any]]]:
    """(id, url, html, expected fields) of the fundus pages (id = ``<cc>/<html file>``)."""
    base = corpus / "fundus"
    rows = (base / "INDEX.tsv").read_text("utf-8").splitlines()
    header = rows[0].split("\t")
    wanted = None if keys is None else set(keys)
    out = []
    for line in rows[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        key = f"{row['country']}/{row['html_gz']}"
        if wanted is not None and key not in wanted:
            continue
        folder = base / row["country"]
        expected = json.loads((folder / row["expected_json"]).read_text("utf-8"))
        html = gzip.decompress((folder / row["html_gz"]).read_bytes())
        out.append((key, row["url"], html, expected[row["version_key"]]))
    return sorted(out, key=lambda page: page[0])


def same_title(want: str | None, got: str | None) -> bool:
    """Exact match, ignoring case and runs of whitespace."""
    return " ".join((want or "").split()).casefold() == " ".join((got or "").split()).casefold()


def same_day(want: str, got: date | None) -> bool:
    """The predicted calendar day is the expected one's, in its own offset or in UTC."""
    moment = datetime.fromisoformat(want)
    days = {moment.date()}
    if moment.tzinfo is not None:
        days.add(moment.astimezone(UTC).date())
    return got in days


def authors_f1(want: Iterable[str], got: Iterable[str]) -> float:
    """F1 of names matched exactly (ignoring case and runs of whitespace)."""
    w = Counter(" ".join(str(v).split()).casefold() for v in want)
    g = Counter(" ".join(str(v).split()).casefold() for v in got)
    if not w and not g:
        return 1.0
    return 2 * sum((w & g).values()) / (sum(w.values()) + sum(g.values()))
