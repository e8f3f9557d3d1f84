"""The README's questions as data: every ```sql block of its "Query" section, named after the bold
lead-in before it, so that the README test (``tests/test_readme_queries.py``) and the canned
queries of ``newsflow browse`` read the same text and cannot drift apart.

The README writes dates as if today were the day it names ("as if today were YYYY-MM-DD");
:func:`shift_dates` moves every ``'YYYY-MM-DD'`` literal of a block by the days from that day to
another. A block fenced ```sql runs on both dialects, one fenced ```sql sqlite or
```sql postgresql only on that one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DIALECTS = ("sqlite", "postgresql")
README = Path(__file__).resolve().parent.parent / "README.md"

_FENCE = re.compile(r"^```sql\b([^\n]*)\n(.*?)^```", re.S | re.M)
_LEAD = re.compile(r"^\*\*(.+?)\*\*", re.M)
_TODAY = re.compile(r"as if today\s+were\s+(\d{4}-\d{2}-\d{2})")
_DATE = re.compile(r"'(\d{4}-\d{2}-\d{2})'")


@dataclass(frozen=True)
class Block:
    """One ```sql block: ``ident`` is ``q<N>`` after the question "**N. ...**", else the
    lead-in as a slug (plus the dialect, for a one-dialect block); ``lead`` the bold lead-in,
    ``prose`` the text between it and the block."""

    ident: str
    sql: str
    dialects: tuple[str, ...]
    lead: str = ""
    prose: str = ""

    @property
    def question(self) -> int | None:
        """The question's number, for a block of a numbered question."""
        number = re.fullmatch(r"q(\d+)", self.ident)
        return int(number.group(1)) if number else None


def query_section(text: str) -> str:
    """The README's "## Query" section."""
    start = text.index("\n## Query\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _prose(section: str, lead_end: int, fence_start: int) -> str:
    between = section[lead_end:fence_start]
    return " ".join(between.split()).removesuffix(":").strip()


def sql_blocks(section: str) -> list[Block]:
    """Every ```sql block of ``section``, in order."""
    blocks: list[Block] = []
    for match in _FENCE.finditer(section):
        leads = list(_LEAD.finditer(section[: match.start()]))
        lead = leads[-1].group(1) if leads else "block"
        prose = _prose(section, leads[-1].end(), match.start()) if leads else ""
        number = re.match(r"(\d+)\.", lead)
        ident = f"q{number.group(1)}" if number else re.sub(r"\W+", "-", lead.lower()).strip("-")
        named = tuple(d for d in DIALECTS if d in match.group(1).split())
        if len(named) == 1:
            ident += f"-{named[0]}"
        while any(b.ident == ident for b in blocks):
            ident += "+"
        blocks.append(Block(ident, match.group(2).strip(), named or DIALECTS, lead, prose))
    return blocks


def reference_day(section: str) -> date:
    """The day the section's dates are written for ("as if today were YYYY-MM-DD")."""
    return date.fromisoformat(_TODAY.findall(section)[0])


def shift_dates(sql: str, reference: date, today: date) -> str:
    """``sql`` with every ``'YYYY-MM-DD'`` literal moved by the days from ``reference`` to
    ``today``."""
    delta = today - reference

    def moved(match: re.Match[str]) -> str:
        return "'" + (date.fromisoformat(match.group(1)) + delta).isoformat() + "'"

    return _DATE.sub(moved, sql)


def questions(text: str, dialect: str, today: date) -> list[Block]:
    """The numbered questions of the README ``text`` that run on ``dialect``, in order, their
    dates moved to ``today``."""
    section = query_section(text)
    reference = reference_day(section)
    return [
        Block(b.ident, shift_dates(b.sql, reference, today), b.dialects, b.lead, b.prose)
        for b in sql_blocks(section)
        if b.question is not None and dialect in b.dialects
    ]
