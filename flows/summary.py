"""A flow's summary: the per-source report the flows return, and the Markdown table published
as the run's ``ingest-summary`` artifact. Terminal display is in :mod:`flows.report`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tasks.records import RunCounts

COLUMNS = ("feed_items", "fetched", "new", "already_stored", "duplicates", "failed", "revised")


@dataclass(slots=True)
class SourceReport:
    source: str
    status: str = "completed"  # completed | failed
    counts: RunCounts = field(default_factory=RunCounts)
    errors: list[str] = field(default_factory=list)


def markdown_summary(
    reports: Sequence[SourceReport], failures: dict[str, dict[str, int]], seconds: float
) -> str:
    """The run's summary as a Markdown table (published as a Prefect artifact)."""
    head = ["source", "status", *(c.replace("_", " ") for c in COLUMNS), "failures by reason"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for report in reports:
        reasons = ", ".join(
            f"{reason} {count}"
            for reason, count in sorted(
                failures.get(report.source, {}).items(), key=lambda x: -x[1]
            )
        )
        values = [str(getattr(report.counts, column)) for column in COLUMNS]
        lines.append(
            "| " + " | ".join([report.source, report.status, *values, reasons or "-"]) + " |"
        )
    return "\n".join([f"**ingest-news**: {len(reports)} source(s) in {seconds:.1f} s", "", *lines])
