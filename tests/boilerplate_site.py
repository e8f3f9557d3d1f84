"""A small news site of our own for boilerplate tests: distinct stories, each page carrying the same
call-out box, sign-up prompt, stock caption, "Reader Comments" heading and timeout notice (the
noise of ../shared/seed/article.txt, reworded)."""

from __future__ import annotations

import random
import re
from html import escape

CALLOUT = (
    "Are you a resident of Lakeside or Hillford? We want to hear about what you're "
    "experiencing. Write to us through the form on our contact page."
)
NEWSLETTER = "Get the day's top stories every morning: join the free briefing from our desk."
CAPTION = "The harbour at dusk, seen from the old pier. (Example News/Staff)"
COMMENTS = "Reader Comments"
TIMEOUT = "You did not use the site, Click here to remain logged. Timeout: 60 second"
NOISE = (CALLOUT, NEWSLETTER, CAPTION, COMMENTS, TIMEOUT)

_VOCABULARY = re.findall(
    r"\w+",
    """
council mayor harbour ferry budget school teacher river bridge storm flood farmer harvest
market price bakery festival museum painter library election candidate vote police court judge
hospital nurse doctor patient vaccine railway station train delay airport runway pilot tourist
hotel beach fisherman boat license forest wildfire firefighter volunteer charity donation church
choir concert stadium coach player season injury transfer factory worker union strike wage
mine copper tunnel engineer contract road pothole cyclist helmet parking garage tenant landlord
rent housing tower crane architect heritage castle archive letter diary soldier memorial veteran
garden orchard apple cider brewery license inspector restaurant chef menu recipe drought reservoir
pipeline leak neighbour noise complaint permit zoning wetland heron bird survey scientist grant
laboratory student exam graduation scholarship startup investor software outage bank loan
""",
)
_GLUE = re.findall(r"\w+", "the a of to in on for with after before said has was by and as near")


def story(seed: int, paragraphs: int = 5) -> list[str]:
    """A story of its own: ``paragraphs`` paragraphs of about 40 words drawn for ``seed``."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        words = [rng.choice(_VOCABULARY if i % 3 else _GLUE) for i in range(40)]
        out.append(" ".join(words).capitalize() + ".")
    return out


def page_text(paragraphs: list[str]) -> str:
    """The extracted text of one page, as trafilatura gives it: noise lines among the story."""
    lines = [CAPTION, *paragraphs[:2], CALLOUT, *paragraphs[2:], NEWSLETTER, COMMENTS, TIMEOUT]
    return "\n".join(lines)


def page_html(title: str, url: str, paragraphs: list[str]) -> bytes:
    """One article page of the site (canonical link, caption, call-out, newsletter, comments)."""
    body = [f"<p>{escape(p)}</p>" for p in paragraphs]
    article = [
        f"<h1>{escape(title)}</h1>",
        '<figure><img src="/harbour.jpg" alt="harbour">'
        f"<figcaption>{escape(CAPTION)}</figcaption></figure>",
        *body[:2],
        f"<ul><li>{escape(CALLOUT)}</li></ul>",
        *body[2:],
        f"<p>{escape(NEWSLETTER)}</p>",
        f"<h2>{COMMENTS}</h2>",
        f"<p>{escape(TIMEOUT)}</p>",
    ]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f'</title><link rel="canonical" href="{escape(url)}"></head><body>'
        '<nav><a href="/">Home</a> <a href="/local">Local</a></nav>'
        f"<article>{''.join(article)}</article>"
        "<footer>Example News</footer></body></html>"
    ).encode()
