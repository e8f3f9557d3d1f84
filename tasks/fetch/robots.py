"""robots.txt per RFC 9309 (Protego): fetched once per host per run, only the first 500 KiB, and
kept across runs (``storage/robots.py``) as long as its ``Cache-Control`` allows (RFC 9309 §2.4:
standard HTTP caching, and never more than 24 hours): ``max-age`` (capped at 24 hours), no
keeping at all under ``no-store``, ``no-cache`` or ``max-age=0``, 24 hours without a
``max-age``. Only answers that settle the rules are kept (2xx parsed, 4xx "allow all"); a 5xx or
no answer is asked again next run."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from tasks.records import FetchOutcome, RobotsRecord

ROBOTS_MAX_BYTES = 500 * 1024
AGENT = "newsflow"
MAX_AGE = timedelta(hours=24)  # RFC 9309 §2.4: a cached robots.txt is used for 24 hours at most
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_KEEP = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:[,=]|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Robots:
    """A host's rules: ``parser`` None means everything is allowed; ``deferred`` says why the
    host must wait for the next run (robots.txt unavailable: 5xx, timeout, ...)."""

    parser: Protego | None = None
    deferred: str | None = None

    def allows(self, url: str) -> bool:
        return self.parser is None or bool(self.parser.can_fetch(url, AGENT))

    def crawl_delay(self) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(AGENT)
        return float(delay) if delay else 0.0


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def rules_of(record: RobotsRecord) -> Robots:
    """The rules of a kept robots.txt answer."""
    return Robots(Protego.parse(record.body)) if 200 <= record.status_code < 300 else Robots()


def _text(body: bytes) -> str:
    body = body[:ROBOTS_MAX_BYTES]
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace")
    return body.decode("utf-8", "replace")


def interpret(outcome: FetchOutcome) -> Robots:
    """RFC 9309 §2.3.1: 2xx parse; 4xx "unavailable" = allow all; 5xx or no answer = disallow
    for now (we defer the host to the next run)."""
    if outcome.ok and outcome.body is not None:
        return Robots(parser=Protego.parse(_text(outcome.body)))
    status = outcome.status_code
    if status is not None and 400 <= status < 500:
        return Robots()
    return Robots(deferred=f"robots.txt unavailable ({outcome.reason})")


def keep_for(cache_control: str | None) -> timedelta:
    """How long a robots.txt answer may be kept across runs under its ``Cache-Control``: its
    ``max-age`` capped at :data:`MAX_AGE`; zero under ``no-store``/``no-cache``; else
    :data:`MAX_AGE`."""
    if not cache_control:
        return MAX_AGE
    if _NO_KEEP.search(cache_control):
        return timedelta(0)
    found = _MAX_AGE.search(cache_control)
    if found is None:
        return MAX_AGE
    return min(MAX_AGE, timedelta(seconds=int(found.group(1))))


def record_of(host: str, outcome: FetchOutcome, now: datetime) -> RobotsRecord | None:
    """What to keep of a robots.txt answer across runs (``None``: nothing, ask next run)."""
    status, keep = outcome.status_code, keep_for(outcome.cache_control)
    if status is None or keep <= timedelta(0):
        return None
    if outcome.ok and outcome.body is not None:
        return RobotsRecord(host, status, _text(outcome.body), now, now + keep)
    if 400 <= status < 500:
        return RobotsRecord(host, status, "", now, now + keep)
    return None
