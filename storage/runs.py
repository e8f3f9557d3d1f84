"""The SQL of ingest runs: opening and closing ``ingest_runs`` rows, closing runs whose process
is gone, and the failures of runs by reason. Every function works in the caller's session (the
caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.feeds import feed_state_row
from storage.models import Fetch, IngestRun, Source, utcnow
from storage.sql import ensure_source
from tasks.records import OK_REASONS, FeedState, RunCounts

# Says whether the process behind a ``running`` row is gone: (host, pid, last heartbeat, when
# the run started).
IsDead = Callable[[str | None, int | None, datetime | None, datetime | None], bool]


def start_run(
    session: Session,
    source_name: str,
    flow_run_id: str | None,
    host: str | None = None,
    pid: int | None = None,
) -> int:
    """Create the ``ingest_runs`` row (status ``running``, with who runs it) and return its id."""
    source_id = ensure_source(session, source_name)
    run = IngestRun(
        source_id=source_id,
        flow_run_id=flow_run_id,
        status="running",
        host=host,
        pid=pid,
        heartbeat_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    counts: RunCounts,
    status: str,
    error: str | None = None,
    feed_states: Sequence[FeedState] = (),
) -> None:
    """Close the run with its counts; with it remember its feeds' conditional-GET state
    (``feed_states``: given only when the run completed, so a run that crashed or failed after
    discovery leaves its feeds to be read again by the next run)."""
    for state in feed_states:
        session.merge(feed_state_row(state))
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(
            status=status,
            finished_at=utcnow(),
            error=error,
            feed_items=counts.feed_items,
            fetched=counts.fetched,
            new=counts.new,
            already_stored=counts.already_stored,
            duplicates=counts.duplicates,
            failed=counts.failed,
            revised=counts.revised,
        )
    )


def close_dead_runs(session: Session, source_name: str, is_dead: IsDead) -> int:
    """Mark the source's ``running`` rows whose process is gone (killed, machine lost) as
    ``crashed``, so no run stays "running" forever; returns how many."""
    rows = session.execute(
        select(
            IngestRun.id,
            IngestRun.host,
            IngestRun.pid,
            IngestRun.heartbeat_at,
            IngestRun.started_at,
        )
        .join(Source, Source.id == IngestRun.source_id)
        .where(Source.name == source_name, IngestRun.status == "running")
    ).all()
    dead = [r[0] for r in rows if is_dead(r[1], r[2], r[3], r[4])]
    if dead:
        session.execute(
            update(IngestRun)
            .where(IngestRun.id.in_(dead))
            .values(status="crashed", finished_at=utcnow(), error="its process was gone")
        )
    return len(dead)


def heartbeat(session: Session, run_id: int) -> None:
    """The run showed life (a stored batch)."""
    session.execute(update(IngestRun).where(IngestRun.id == run_id).values(heartbeat_at=utcnow()))


def abandon_runs(session: Session, flow_run_id: str, status: str, error: str) -> int:
    """Close the ``running`` rows of a flow run that ended abnormally (crashed, cancelled,
    failed); returns how many were closed."""
    result = session.execute(
        update(IngestRun)
        .where(IngestRun.flow_run_id == flow_run_id, IngestRun.status == "running")
        .values(status=status, finished_at=utcnow(), error=error[:2000])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def failures_by_reason(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per ingest run: how many fetches ended with each failure reason."""
    rows = session.execute(
        select(Fetch.ingest_run_id, Fetch.reason, func.count())
        .where(Fetch.ingest_run_id.in_(list(run_ids)), Fetch.reason.not_in(OK_REASONS))
        .where(Fetch.kind != "robots")  # its consequence is on the pages (host_skipped)
        .group_by(Fetch.ingest_run_id, Fetch.reason)
    ).all()
    out: dict[int, dict[str, int]] = {}
    for run_id, reason, count in rows:
        out.setdefault(int(run_id or 0), {})[str(reason)] = int(count)
    return out
