"""Self-written near-duplicate families (the perturbations of ../shared/docs/dedup.md B5), built
from seeded pseudo-articles so tests and the benchmark share one definition."""

from __future__ import annotations

import random


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


VOCABULARY = _words(
    "council budget mayor school road river bridge storm police court judge minister election "
    "voters party union strike hospital doctor nurse patients farmers harvest drought price "
    "market bank rates inflation company shares workers factory port ship cargo airline flight "
    "airport train station tunnel museum artist festival concert team coach season match goal "
    "player injury stadium fans village town city region province border army soldiers "
    "ceasefire talks treaty embassy report survey study scientists climate emissions energy "
    "solar wind coal gas pipeline water supply housing rent tenants landlord tax reform pension "
    "benefits teachers students university research vaccine virus outbreak cases ministry "
    "agency officials spokesman statement interview protest march crowd square parliament vote "
    "bill law amendment opposition leader president governor senator campaign debate poll "
    "result recount appeal ruling verdict"
)
LINKS = _words("the a of in on for with after before during while as and but said says will would")
WIRE_LINES = [
    "Reporting by staff correspondents; editing by the news desk.",
    "Copyright 2026 Example Wire Service. All rights reserved.",
    "Sign up for our morning newsletter to get the day's top stories.",
]
SITE_FOOTER = " ".join(
    f"Our newsroom follows the editorial code of practice number {i} and welcomes corrections "
    "sent through the contact page, and subscribers can manage their preferences at any time."
    for i in range(12)
)


def article(seed: int, words: int = 400) -> str:
    """A deterministic pseudo-article of about ``words`` words, in sentences and paragraphs."""
    rng = random.Random(seed)
    sentences = []
    count = 0
    while count < words:
        length = rng.randint(9, 22)
        picked = [rng.choice(VOCABULARY if i % 2 == 0 else LINKS) for i in range(length)]
        sentences.append(" ".join(picked).capitalize() + ".")
        count += length
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def syndicated(text: str, seed: int) -> str:
    """A wire copy on another site: its own byline/boilerplate lines, curly quotes."""
    rng = random.Random(seed)
    return "\n\n".join(
        [rng.choice(WIRE_LINES), text.replace("'", "\u2019"), rng.choice(WIRE_LINES)]
    )


def edited(text: str, share: float, seed: int, run: int = 4) -> str:
    """``share`` of the words rewritten, in phrases of ``run`` consecutive words at random
    places (copy-editing changes phrases); ``run=1`` scatters single-word changes instead."""
    rng = random.Random(seed)
    words = text.split(" ")
    starts = rng.sample(range(0, len(words) - run, run), int(len(words) * share / run))
    for start in starts:
        for index in range(start, start + run):
            words[index] = rng.choice(VOCABULARY)
    return " ".join(words)


def updated(text: str, seed: int) -> str:
    """A later version with about 120 words appended."""
    return text + "\n\nUpdate: " + article(seed + 10_000, 120)


def truncated(text: str, share: float = 0.6) -> str:
    words = text.split(" ")
    return " ".join(words[: int(len(words) * share)])


def with_footer(text: str) -> str:
    """A different article that leaks the same 300-word site footer (must not merge)."""
    return text + "\n\n" + SITE_FOOTER


def same_event(seed: int) -> str:
    """Another article about the same event: shares a headline-like lead sentence only."""
    lead = "The council approved the harbour budget after a long debate on Tuesday."
    return lead + "\n\n" + article(seed + 20_000)
