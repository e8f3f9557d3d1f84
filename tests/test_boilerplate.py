"""Per-source boilerplate learning and stripping (tasks/dedup/boilerplate.py): on our own small
site, and on real publishers of the fundus corpus with several pages each."""

from __future__ import annotations

import csv
import functools
import gzip
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tasks.dedup import boilerplate
from tasks.dedup.boilerplate import Rule
from tasks.extract.extract import PageInput, extract_page
from tests.boilerplate_site import (
    CALLOUT,
    COMMENTS,
    NEWSLETTER,
    NOISE,
    TIMEOUT,
    page_html,
    page_text,
    story,
)
from tests.conftest import ROOT

_WORD = re.compile(r"\w+")


def site_texts(count: int = 6) -> list[str]:
    return [page_text(story(seed)) for seed in range(count)]


def test_learn_finds_exactly_the_recurring_lines() -> None:
    learned = boilerplate.learn(site_texts())

    assert sorted(learned.values()) == sorted(NOISE)


def test_learn_needs_min_pages_distinct_stories() -> None:
    assert boilerplate.learn(site_texts(2)) == {}


def test_learn_ignores_a_line_below_the_share_of_the_window() -> None:
    texts = [page_text(story(seed)) for seed in range(40)]
    texts[:3] = [t + "\nA one-off appeal seen on three pages only." for t in texts[:3]]

    learned = boilerplate.learn(texts, Rule(min_pages=3, min_share=0.1))

    assert "A one-off appeal seen on three pages only." not in learned.values()
    assert CALLOUT in learned.values()


def test_learn_counts_syndicated_copies_as_one_story() -> None:
    copied = story(100)
    copies = [page_text([*copied[:-1], f"{copied[-1]} Updated at {h}:00."]) for h in (9, 11, 13)]
    texts = [*copies, *site_texts(3)]

    learned = boilerplate.learn(texts)

    assert sorted(learned.values()) == sorted(NOISE)
    assert not set(copied) & set(learned.values())


def test_learn_treats_a_copy_without_boilerplate_as_its_story() -> None:
    copied = story(7)
    texts = ["\n".join(copied)] * 5

    assert boilerplate.learn(texts) == {}


def test_line_key_ignores_case_punctuation_and_bullets() -> None:
    assert boilerplate.line_key(f"- {CALLOUT.upper()}") == boilerplate.line_key(CALLOUT)
    assert boilerplate.line_key("  •  ") is None


def test_strip_removes_learned_lines_and_keeps_the_story() -> None:
    paragraphs = story(3)
    learned = boilerplate.learn(site_texts())

    stripped = boilerplate.strip(page_text(paragraphs), frozenset(learned))

    assert stripped == "\n".join(paragraphs)


def test_strip_squeezes_the_blank_lines_left_behind() -> None:
    key = boilerplate.line_key(COMMENTS)
    assert key is not None

    assert boilerplate.strip(f"One.\n\n{COMMENTS}\n\nTwo.", {key}) == "One.\n\nTwo."


def test_extract_page_strips_learned_lines_before_hashing() -> None:
    url = "http://127.0.0.1/story-1.html"
    html = page_html("Harbour news", url, story(1))
    learned = frozenset(boilerplate.learn(site_texts()))

    plain = extract_page(PageInput(url, html)).article
    stripped = extract_page(PageInput(url, html, boilerplate=learned)).article

    assert plain is not None and stripped is not None
    assert CALLOUT in plain.text and NEWSLETTER in plain.text
    assert not any(line in stripped.text for line in (CALLOUT, NEWSLETTER, COMMENTS, TIMEOUT))
    assert stripped.content_hash != plain.content_hash
    assert stripped.minhash != plain.minhash
    assert stripped.word_count < plain.word_count
    assert stripped.line_keys == plain.line_keys  # learning still sees every line


def test_extract_page_makes_copies_differing_only_in_boilerplate_equal() -> None:
    url = "http://127.0.0.1/story-2.html"
    paragraphs = story(2)
    bare = (
        f'<html lang="en"><head><title>Harbour news</title></head><body><article>'
        f"<h1>Harbour news</h1>{''.join(f'<p>{p}</p>' for p in paragraphs)}</article></body></html>"
    ).encode()
    learned = frozenset(boilerplate.learn(site_texts()))

    noisy = extract_page(
        PageInput(url, page_html("Harbour news", url, paragraphs), None, boilerplate=learned)
    )
    clean = extract_page(PageInput(url, bare, None, boilerplate=learned))

    assert noisy.article is not None and clean.article is not None
    assert noisy.article.content_hash == clean.article.content_hash


@dataclass(frozen=True)
class FundusPage:
    text: str  # as our extraction gives it
    body: str  # the publisher's article body, as fundus' hand-written parser expects it


def _expected_body(entry: dict[str, Any]) -> str:
    body = entry["body"]
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
    return "\n".join(parts)


def fundus_site(corpus: Path, publisher: str) -> list[FundusPage]:
    """The publisher's pages of the fundus corpus, extracted, with their expected bodies."""
    pages = []
    for row in _fundus_index(corpus):
        if row["publisher"] != publisher:
            continue
        folder = corpus / "fundus" / row["country"]
        html = gzip.decompress((folder / row["html_gz"]).read_bytes())
        expected = json.loads((folder / row["expected_json"]).read_text(encoding="utf-8"))
        result = extract_page(PageInput(row["url"], html))
        if result.article is not None:
            body = _expected_body(expected[row["version_key"]])
            pages.append(FundusPage(result.article.text, body))
    return pages


@functools.cache
def _fundus_index(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "fundus" / "INDEX.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _publishers(least: int) -> list[str]:
    corpus = Path(os.environ.get("NEWSFLOW_CORPUS", ROOT.parent / "shared" / "corpus"))
    if not (corpus / "fundus" / "INDEX.tsv").exists():
        return []
    counts = Counter(row["publisher"] for row in _fundus_index(corpus))
    return sorted(name for name, n in counts.items() if n >= least)


def _story_words_lost(page: FundusPage, learned: dict[str, str]) -> float:
    """Share of the expected body's words that stripping ``learned`` removes from the page."""
    body = boilerplate.normalize(page.body)
    lost = sum(
        len(_WORD.findall(line))
        for line in page.text.splitlines()
        if boilerplate.line_key(line) in learned and boilerplate.normalize(line) in body
    )
    return lost / max(1, len(_WORD.findall(page.body)))


# Every publisher with two or more pages (different stories), learning at its most eager: a line
# on two of them is boilerplate. A dateline paragraph ("Ankara") recurs too, and is the only
# story text (as fundus sees it) that may go.
@pytest.mark.parametrize("publisher", _publishers(2))
def test_learn_on_a_real_site_strips_no_story_text(corpus: Path, publisher: str) -> None:
    pages = fundus_site(corpus, publisher)

    learned = boilerplate.learn([p.text for p in pages], Rule(min_pages=2))

    assert len(learned) <= 5
    for page in pages:
        assert _story_words_lost(page, learned) <= 0.01
        stripped = boilerplate.strip(page.text, frozenset(learned))
        assert len(_WORD.findall(stripped)) >= 0.9 * len(_WORD.findall(page.text))


# The pages of one publisher span years (layouts change) and generic cleaning
# (tasks/extract/clean.py) already drops the common clutter: what is left is learned at the most
# eager setting.
def test_learn_on_real_sites_finds_boilerplate(corpus: Path) -> None:
    sites = {name: [p.text for p in fundus_site(corpus, name)] for name in _publishers(2)}

    learned = {name: boilerplate.learn(texts, Rule(min_pages=2)) for name, texts in sites.items()}

    assert any(learned.values()), learned
