"""Quality gate: extract_page on a fixed sample of the corpus's extraction benchmarks.

Every 20th page of ``extraction-dev`` (body, shingle F1) and of ``fundus`` (title, publish day,
authors). The floors are the figures measured when the cleaning was tuned, minus a margin; the
full benchmark, against plain trafilatura, is bench/extraction.py.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

import pytest

from tasks.extract.extract import PageInput, extract_page
from tests.extraction_metric import (
    authors_f1,
    body_pages,
    corpus_prf,
    meta_pages,
    same_day,
    same_title,
    shingle_score,
)

STRIDE = 20
# Measured on these 13 + 13 pages: body F1 0.973, titles 9/13, days 13/13, authors F1 0.97
# (plain trafilatura defaults: see bench/README.md). A drop beyond the margin fails.
BODY_F1_FLOOR = 0.95
TITLE_FLOOR = 0.69
DATE_FLOOR = 0.92
AUTHORS_FLOOR = 0.90


def _benchmark(corpus: Path, name: str) -> Path:
    path = corpus / name
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} not found (set NEWSFLOW_CORPUS)")
        pytest.skip(f"{path} not found (set NEWSFLOW_CORPUS)")
    return corpus


@pytest.fixture(scope="module")
def body_f1(corpus: Path) -> float:
    pages = body_pages(_benchmark(corpus, "extraction-dev"))[::STRIDE]
    scores = []
    for _key, url, html, truth in pages:
        article = extract_page(PageInput(url, html)).article
        scores.append(shingle_score(truth, article.text if article else ""))
    return corpus_prf(scores)[2]


@pytest.fixture(scope="module")
def metadata(corpus: Path) -> dict[str, float]:
    pages = meta_pages(_benchmark(corpus, "fundus"))[::STRIDE]
    titles: list[bool] = []
    days: list[bool] = []
    authors: list[float] = []
    for _key, url, html, want in pages:
        got: Any = extract_page(PageInput(url, html)).article
        titles.append(same_title(want.get("title"), got.title if got else None))
        if want.get("publishing_date"):
            day = got.published_at.date() if got and got.published_at else None
            days.append(same_day(want["publishing_date"], day))
        if want.get("authors"):
            authors.append(authors_f1(want["authors"], got.authors if got else ()))
    return {
        "title": statistics.mean(titles),
        "date": statistics.mean(days),
        "authors": statistics.mean(authors),
    }


def test_extract_page_body_f1_above_floor(body_f1: float) -> None:
    assert body_f1 >= BODY_F1_FLOOR, body_f1


def test_extract_page_title_match_above_floor(metadata: dict[str, float]) -> None:
    assert metadata["title"] >= TITLE_FLOOR, metadata


def test_extract_page_date_match_above_floor(metadata: dict[str, float]) -> None:
    assert metadata["date"] >= DATE_FLOOR, metadata


def test_extract_page_authors_f1_above_floor(metadata: dict[str, float]) -> None:
    assert metadata["authors"] >= AUTHORS_FLOOR, metadata
