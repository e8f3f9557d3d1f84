"""A flow's summary: the per-source report the flows return and the run's outcome. The per-source
artifacts, log lines and state message are made in :mod:`flows.outcome`; terminal display is in
:mod:`flows.report`."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.records import RunCounts

COLUMNS = ("feed_items", "fetched", "new", "already_stored", "duplicates", "failed", "revised")


@dataclass(slots=True)
class SourceReport:
    source: str
    status: str = "completed"  # completed | failed
    counts: RunCounts = field(default_factory=RunCounts)
    errors: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # failed fetches by reason
    empty_runs: int = 0  # the source's latest runs in a row that stored nothing, this one included


@dataclass(slots=True)
class Outcome:
    """What one ingest did: a report per source and how long it took."""

    reports: list[SourceReport]
    seconds: float
