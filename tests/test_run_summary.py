"""What a run says about itself: the state message, the per-source log lines, the per-source
artifact, the offline hint; and the failure hook on a database that is missing or empty."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from flows.ingest import _closer
from flows.outcome import (
    OFFLINE_HINT,
    artifact_key,
    log_outcome,
    may_be_offline,
    source_markdown,
    state_message,
)
from flows.summary import SourceReport
from tasks.records import RunCounts


def report(name: str, status: str = "completed", **failures: int) -> SourceReport:
    counts = RunCounts(feed_items=20, fetched=15, new=12, failed=3)
    return SourceReport(name, status, counts, failures=dict(failures))


def test_state_message_one_source_counts_and_reasons() -> None:
    assert state_message([report("a", http_404=2, timeout=1)]) == (
        "12 new, 3 failed: http_404 2, timeout 1"
    )


def test_state_message_several_sources_totals() -> None:
    reports = [report("a"), report("b", "failed", dns_error=1)]
    assert state_message(reports) == "1 of 2 source(s) failed; 24 new, 6 failed"


def test_log_outcome_one_info_and_one_warning_per_source(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("newsflow.test-summary")
    with caplog.at_level(logging.INFO, logger="newsflow.test-summary"):
        log_outcome(logger, [report("a", http_404=2), report("b")])
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        (
            "INFO",
            "a completed: feed items 20, fetched 15, new 12, already stored 0, duplicates 0,"
            " failed 3, revised 0",
        ),
        ("WARNING", "a: 2 failed fetch(es) by reason: http_404 2"),
        (
            "INFO",
            "b completed: feed items 20, fetched 15, new 12, already stored 0, duplicates 0,"
            " failed 3, revised 0",
        ),
    ]


def test_source_markdown_is_narrow() -> None:
    text = source_markdown(report("a", http_404=2, timeout=1, robots_disallowed=4), 3.2)
    assert text.startswith("**a**: completed in 3.2 s: 12 new, 3 failed: robots_disallowed 4")
    assert "| http_404 | 2 |" in text and "| new | 12 |" in text
    assert max(line.count("|") for line in text.splitlines()) == 3  # two columns, never ten


def test_artifact_key_per_source_is_a_valid_prefect_key() -> None:
    from prefect.artifacts import Artifact

    assert artifact_key("bbc_world") == "ingest-summary-bbc-world"
    Artifact(type="markdown", key=artifact_key("bbc_world"), data="x")  # validates the key


def test_may_be_offline_only_when_every_source_failed_on_dns_or_connection() -> None:
    assert may_be_offline([report("a", "failed", dns_error=3), report("b", "failed", conn_error=1)])
    assert not may_be_offline([report("a", "failed", dns_error=3), report("b", "completed")])
    assert not may_be_offline([report("a", "failed", dns_error=3, http_404=1)])
    assert not may_be_offline([report("a", "failed")])  # nothing recorded: no such claim
    assert "may be offline" in OFFLINE_HINT
    assert "`make demo`" in OFFLINE_HINT  # a first success without internet


def _run_closer(caplog: pytest.LogCaptureFixture) -> list[str]:
    run = SimpleNamespace(id=uuid.uuid4())
    with caplog.at_level(logging.DEBUG, logger="newsflow"):
        _closer("failed")(None, run, SimpleNamespace(message="unknown source(s): x"))
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records]


def test_failure_hook_creates_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "never.db"
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", f"sqlite:///{db}")

    assert _run_closer(caplog) == []
    assert not db.exists()


def test_failure_hook_on_an_empty_database_logs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()  # a file with no tables
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", f"sqlite:///{db}")

    assert _run_closer(caplog) == []
