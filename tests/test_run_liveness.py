"""Runs whose process died (kill -9, lost machine) are marked crashed, never left running."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from flows.runtime import process_is_dead, process_started_at
from storage import runs
from storage.engine import transaction
from storage.models import IngestRun

STALE = timedelta(minutes=60)
is_dead = functools.partial(process_is_dead, stale_after=STALE)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def statuses(db_url: str) -> dict[int, str]:
    with transaction(db_url) as session:
        return {row[0]: row[1] for row in session.execute(select(IngestRun.id, IngestRun.status))}


def test_process_is_dead_on_this_host_when_the_pid_is_gone() -> None:
    now = datetime.now(UTC)
    host = socket.gethostname()
    assert is_dead(host, dead_pid(), now)
    assert not is_dead(host, os.getppid(), now - 2 * STALE)  # alive: however old its heartbeat
    assert is_dead("elsewhere", 1, now - 2 * STALE)  # another machine, silent too long
    assert not is_dead("elsewhere", 1, now)


def test_a_reused_pid_does_not_keep_a_dead_run_alive() -> None:
    """In a restarted container the old run's pid can belong to a new process: one that started
    after the run did is not the run's process."""
    host, now = socket.gethostname(), datetime.now(UTC)
    newcomer = subprocess.Popen(["sleep", "30"])
    try:
        born = process_started_at(newcomer.pid)
        assert born is not None and abs(born - datetime.now(UTC)) < timedelta(seconds=10)
        assert is_dead(host, newcomer.pid, now, now - timedelta(hours=1))  # pid reused
        assert not is_dead(host, newcomer.pid, now, datetime.now(UTC))  # its own run
        assert not is_dead(host, newcomer.pid, now, None)  # start unknown: alive
    finally:
        newcomer.kill()
        newcomer.wait()
    assert not is_dead(host, os.getppid(), now - 2 * STALE, now)  # started before its run


def test_a_row_with_this_process_pid_from_before_it_started_is_dead() -> None:
    """A restarted container's new process often gets the old one's pid: its own pid on a row
    opened before it started is not its run."""
    host, now = socket.gethostname(), datetime.now(UTC)
    assert is_dead(host, os.getpid(), now, now - timedelta(days=365))
    assert not is_dead(host, os.getpid(), now, now)  # a run of this process
    assert is_dead(host, os.getpid(), now - 2 * STALE, now)  # ... silent too long


def test_close_dead_runs_marks_a_run_whose_pid_was_reused(migrated_db: str) -> None:
    host = socket.gethostname()
    with transaction(migrated_db) as session:
        old = runs.start_run(session, "wire", "a", host, os.getppid())
    with transaction(migrated_db) as session:  # the run started before the pid's process did
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == old)
            .values(started_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    with transaction(migrated_db) as session:
        assert runs.close_dead_runs(session, "wire", is_dead) == 1
    assert statuses(migrated_db) == {old: "crashed"}


def test_close_dead_runs_marks_only_dead_running_rows(migrated_db: str) -> None:
    host = socket.gethostname()
    with transaction(migrated_db) as session:
        killed = runs.start_run(session, "wire", "a", host, dead_pid())
    with transaction(migrated_db) as session:
        alive = runs.start_run(session, "wire", "b", host, os.getppid())
    with transaction(migrated_db) as session:
        other = runs.start_run(session, "other", "c", host, dead_pid())
    with transaction(migrated_db) as session:
        silent = runs.start_run(session, "wire", "d", "elsewhere", 1)
    with transaction(migrated_db) as session:
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == silent)
            .values(heartbeat_at=datetime.now(UTC) - 2 * STALE)
        )

    with transaction(migrated_db) as session:
        closed = runs.close_dead_runs(session, "wire", is_dead)

    assert closed == 2
    assert statuses(migrated_db) == {
        killed: "crashed",
        alive: "running",
        other: "running",  # another source: closed by that source's next run
        silent: "crashed",
    }
    with transaction(migrated_db) as session:
        assert runs.close_dead_runs(session, "wire", is_dead) == 0
