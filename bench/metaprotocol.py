"""The generalisation protocol of bench/extraction.py for titles and authors (the fundus pages):
every rule of ``tasks.extract.pagemeta.META_RULES`` switched off in turn, judged per publisher
(a rule helps a publisher when the publisher's mean title match plus authors F1 drops without
it), and leave-one-publisher-out (each publisher's pages extracted with the rules kept on the
other publishers). Also: where the title misses come from (the truth is another headline the page
carries, or none of them), and the rules on the web pages (other publishers, another truth).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generalize import leave_one_publisher_out, publisher, verdicts
from tasks.extract.extract import PageInput, ParsedPage, page_body, page_metadata, parse_page
from tasks.extract.pagemeta import META_RULES, read_head
from tasks.extract.titles import choose_title
from tests.extraction_metric import authors_f1, same_title

MetaPage = tuple[str, str, bytes, dict[str, Any]]  # id, url, html, expected fields
# The web pages' author truth is one string as a person typed it ("Lars Fischer und Alina
# Schadwinkel", "FR mit dpa"): split on these to compare name by name.
_TRUTH_SPLIT = re.compile(r"\s*(?:;|,|/|&| und | and | mit )\s*")


def web_pages(corpus: Path) -> list[MetaPage]:
    """The pages of ``corpus/web/pages`` whose truth (trafilatura's evaluation data) has a title
    or an author, in the fundus pages' shape (id ``web/<host>/<name>``)."""
    out = []
    for expected in sorted((corpus / "web" / "pages").glob("*/*.expected.json")):
        truth = json.loads(expected.read_text("utf-8"))
        page = expected.with_name(expected.name.replace(".expected.json", ".html"))
        if not (truth.get("title") or truth.get("author")) or not page.exists():
            continue
        author = truth.get("author") or []
        names = author if isinstance(author, list) else _TRUTH_SPLIT.split(author)
        want = {"title": (truth.get("title") or "").strip(), "authors": [n for n in names if n]}
        key = f"web/{expected.parent.name}/{expected.name.removesuffix('.expected.json')}"
        out.append((key, truth["url"], page.read_bytes(), want))
    return out


@dataclass(frozen=True)
class MetaScore:
    """One page's metadata score: title matched, authors F1 (None: the truth has no such field)."""

    title: bool | None
    authors: float | None

    def value(self) -> float:
        return float(self.title or 0) + (self.authors or 0.0)


class NewsflowMeta:
    """newsflow's title and authors on the fundus pages: each page parsed once (trafilatura, and
    the body, which decides whether there is an article), the metadata rules as often as the
    protocol asks."""

    def __init__(self, pages: Sequence[MetaPage]) -> None:
        self.pages = {key: (url, want) for key, url, _, want in pages}
        self.parsed: dict[str, ParsedPage | None] = {}
        for key, url, html, _ in pages:
            page = PageInput(url, html)
            parsed = parse_page(page)
            ok = isinstance(parsed, ParsedPage) and page_body(page, parsed)[2] is None
            self.parsed[key] = parsed if ok and isinstance(parsed, ParsedPage) else None

    def meta(
        self, key: str, skip: frozenset[str] = frozenset()
    ) -> tuple[str | None, tuple[str, ...]]:
        """(title, authors) of a page with the rules in ``skip`` left out."""
        parsed, (url, _) = self.parsed[key], self.pages[key]
        if parsed is None:
            return None, ()
        title, authors = page_metadata(parsed.tree, parsed.data, parsed.structured, url, skip)
        if parsed.kept is not None:
            title = parsed.kept.restore(title)
            authors = tuple(parsed.kept.restore(a) or "" for a in authors)
        return title, authors

    def scores(self, skip: frozenset[str], keys: Sequence[str]) -> dict[str, MetaScore]:
        out = {}
        for key in keys:
            want = self.pages[key][1]
            title, authors = self.meta(key, skip)
            out[key] = MetaScore(
                same_title(want["title"], title) if want.get("title") else None,
                authors_f1(want["authors"], authors) if want.get("authors") else None,
            )
        return out


def figures(scores: Mapping[str, MetaScore]) -> tuple[float, float]:
    """(title exact match, authors F1) over the pages whose truth has the field."""
    titles = [float(s.title) for s in scores.values() if s.title is not None]
    authors = [s.authors for s in scores.values() if s.authors is not None]
    return statistics.mean(titles or [0.0]), statistics.mean(authors or [0.0])


def _headlines(ours: NewsflowMeta, key: str) -> dict[str, str]:
    """The page's headlines, each cleaned of the site's name as the title is."""
    parsed, (url, _) = ours.parsed[key], ours.pages[key]
    if parsed is None:
        return {}
    head = read_head(parsed.tree)
    site = parsed.data.get("sitename")
    found = {
        "og:title": head.og_title,
        "twitter:title": head.twitter_title,
        "<title>": head.html_title,
        "<h1>": next((" ".join(h.text_content().split()) for h in parsed.tree.iter("h1")), None),
        "JSON-LD headline": parsed.structured.headline,
    }
    cleaned = {name: choose_title(text, site, url) for name, text in found.items() if text}
    kept = parsed.kept
    return {n: (kept.restore(t) if kept else t) or "" for n, t in cleaned.items() if t}


def title_sources(ours: NewsflowMeta, misses: Sequence[str]) -> tuple[Counter[str], int]:
    """For the missed titles: how often the truth is each other headline of the page (a page may
    count for several), and on how many pages it is none of them."""
    sources: Counter[str] = Counter()
    nowhere = 0
    for key in misses:
        want = ours.pages[key][1]["title"]
        hits = [name for name, text in _headlines(ours, key).items() if same_title(want, text)]
        sources.update(hits)
        nowhere += not hits
    return sources, nowhere


def web_report(pages: Sequence[MetaPage]) -> None:
    """Titles and authors on the web pages (other publishers, another truth) with all rules and
    without each: a rule that helps on fundus should not hurt here."""
    ours = NewsflowMeta(pages)
    keys = [key for key, *_ in pages]
    full = ours.scores(frozenset(), keys)
    title, authors = figures(full)
    n_title = sum(s.title is not None for s in full.values())
    n_authors = sum(s.authors is not None for s in full.values())
    print(f"\nweb pages ({n_title} titles, {n_authors} with authors; trafilatura's evaluation "
          f"data): titles {title:.3f}, authors {authors:.3f}")  # fmt: skip
    for rule in META_RULES:
        without = ours.scores(frozenset({rule}), keys)
        better = sum(full[k].value() > without[k].value() for k in keys)
        worse = sum(full[k].value() < without[k].value() for k in keys)
        t, a = figures(without)
        print(f"  without {rule:<9} titles {t:.3f}, authors {a:.3f}: the rule helps {better} "
              f"pages, hurts {worse}")  # fmt: skip


def report(ours: NewsflowMeta, full: Mapping[str, MetaScore]) -> dict[str, float]:
    """Print the metadata protocol's tables; returns the LOPO title and authors figures."""
    keys = list(full)
    ablated = {rule: ours.scores(frozenset({rule}), keys) for rule in META_RULES}
    rules = verdicts(full, ablated, MetaScore.value, lambda s: figures(s)[0] + figures(s)[1])
    publishers = len({publisher(key) for key in keys})
    print(f"\nmetadata rules: off in turn; publishers helped / hurt ({publishers} publishers)")
    print(f"{'rule':<10} {'helps':>5} {'hurts':>5} {'title w/o':>9} {'authors w/o':>11}  verdict")
    for v in rules:
        title, authors = figures(ablated[v.rule])
        verdict = "kept" if v.kept() else "DROP (helps no more publishers than it hurts)"
        if not v.helps and not v.hurts:
            verdict = "neutral (changes no publisher's score here)"
        print(f"{v.rule:<10} {len(v.helps):5d} {len(v.hurts):5d} {title:9.3f} {authors:11.3f}  "
              f"{verdict}")  # fmt: skip
    lopo = leave_one_publisher_out(full, rules, ours.scores)
    title, authors = figures(lopo)
    print(f"leave-one-publisher-out: titles {title:.3f}, authors {authors:.3f}")
    missed = [key for key, s in full.items() if s.title is False]
    sources, nowhere = title_sources(ours, missed)
    found = ", ".join(f"{name} {n}" for name, n in sources.most_common())
    print(f"title misses {len(missed)}: the truth is another headline of the page on "
          f"{len(missed) - nowhere} ({found}), none of them on {nowhere}")  # fmt: skip
    return {"title": title, "authors": authors}
