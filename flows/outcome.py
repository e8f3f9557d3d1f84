"""What a run says about itself where an operator looks: one INFO line per source with its
counts and a WARNING with its failures by reason (Prefect's log view, or the console), a short
state message ("12 new, 3 failed: http_404 2, timeout 1"), and one Markdown artifact per source
(key ``ingest-summary-<source>``) that reads at a normal window width; and, per source whose
latest runs stored nothing, the Prefect event the empty-source alert watches."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from flows.summary import COLUMNS, Outcome, SourceReport
from tasks.records import Reason

# A feed that fails with one of these never reached a server: DNS or the connection itself.
OFFLINE_REASONS = frozenset({Reason.DNS_ERROR, Reason.CONN_ERROR})
OFFLINE_HINT = (
    "every feed failed with a DNS or connection error: this machine may be offline"
    " (`make demo` ingests the project's own test sites without internet)"
)
# The event a flow run emits per source whose latest runs stored nothing (the empty-source alert
# of flows/alerts.py watches it): resource ``newsflow.source.<name>``, the streak as a label.
EMPTY_EVENT = "newsflow.source.empty"
STREAK_LABEL = "newsflow.empty-runs"
SOURCE_RESOURCE = "newsflow.source."


def reasons_text(failures: dict[str, int]) -> str:
    """``http_404 2, timeout 1``: most frequent first, then by name."""
    ranked = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{reason} {count}" for reason, count in ranked)


def source_message(report: SourceReport) -> str:
    text = f"{report.counts.new} new, {report.counts.failed} failed"
    if report.failures:
        text += f": {reasons_text(report.failures)}"
    return text


def state_message(reports: Sequence[SourceReport]) -> str:
    """The flow run's state message: the source's counts, or the totals and how many failed."""
    if len(reports) == 1:
        (report,) = reports
        prefix = "source failed; " if report.status == "failed" else ""
        return prefix + source_message(report)
    new = sum(r.counts.new for r in reports)
    failed = sum(r.counts.failed for r in reports)
    lost = sum(r.status == "failed" for r in reports)
    return f"{lost} of {len(reports)} source(s) failed; {new} new, {failed} failed"


def may_be_offline(reports: Sequence[SourceReport]) -> bool:
    """Every source failed, and every failure of the run was a DNS or connection error."""
    if not reports or any(r.status != "failed" for r in reports):
        return False
    reasons = {reason for r in reports for reason in r.failures}
    return bool(reasons) and reasons <= OFFLINE_REASONS


def log_outcome(
    logger: logging.Logger | logging.LoggerAdapter[Any], reports: Sequence[SourceReport]
) -> None:
    for report in reports:
        counts = ", ".join(f"{c.replace('_', ' ')} {getattr(report.counts, c)}" for c in COLUMNS)
        logger.info("%s %s: %s", report.source, report.status, counts)
        if report.failures:
            logger.warning(
                "%s: %d failed fetch(es) by reason: %s",
                report.source,
                sum(report.failures.values()),
                reasons_text(report.failures),
            )
        for error in report.errors[:3]:
            logger.warning("%s: %s", report.source, error[:300])
    if may_be_offline(reports):
        logger.warning(OFFLINE_HINT)


def artifact_key(source: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return "ingest-summary-" + re.sub(r"[^a-z0-9-]", "-", source.lower())


def source_markdown(report: SourceReport, seconds: float) -> str:
    """Two narrow tables (counts, failures by reason) instead of one wide one."""
    lines = [
        f"**{report.source}**: {report.status} in {seconds:.1f} s: {source_message(report)}",
        "",
        "| count | |",
        "|---|---:|",
        *(f"| {c.replace('_', ' ')} | {getattr(report.counts, c)} |" for c in COLUMNS),
    ]
    if report.failures:
        ranked = sorted(report.failures.items(), key=lambda item: (-item[1], item[0]))
        lines += ["", "| failure reason | fetches |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in ranked]
    if report.errors:
        lines += ["", "Errors:", ""]
        lines += [f"- {error[:300]}" for error in report.errors[:5]]
    return "\n".join(lines)


def publish_artifacts(outcome: Outcome) -> None:
    """One artifact per source, so each source's card in the UI has its own history."""
    from prefect.artifacts import create_markdown_artifact

    for report in outcome.reports:
        create_markdown_artifact(
            source_markdown(report, outcome.seconds),
            key=artifact_key(report.source),
            description=f"newsflow ingest of {report.source}: counts and failures by reason",
        )


def emit_empty_streaks(reports: Iterable[SourceReport]) -> int:
    """Emit ``newsflow.source.empty`` for each source of the run whose streak of runs that
    stored nothing is not zero (only inside a flow run; Prefect sends it with the run's other
    events). How many were emitted."""
    from prefect.events import emit_event

    emitted = 0
    for report in reports:
        if report.empty_runs <= 0:
            continue
        emit_event(
            EMPTY_EVENT,
            resource={
                "prefect.resource.id": SOURCE_RESOURCE + report.source,
                "prefect.resource.name": report.source,
                STREAK_LABEL: str(report.empty_runs),
            },
            payload={
                "source": report.source,
                "empty_runs": report.empty_runs,
                "status": report.status,
                "message": source_message(report),
            },
        )
        emitted += 1
    return emitted
