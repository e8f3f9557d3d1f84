"""The SQL of the robots.txt cache (``robots_files``): each host's answer kept across runs until
it expires, so a run fetches a host's robots.txt at most once a day. Functions take a session the
caller owns (and commits)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import RobotsFileRow
from tasks.records import RobotsRecord

CHUNK = 500


def load_robots(session: Session, hosts: Sequence[str], now: datetime) -> dict[str, RobotsRecord]:
    """The unexpired answers of ``hosts`` (``tasks.fetch.hosts.host_key``), by host."""
    found: dict[str, RobotsRecord] = {}
    for start in range(0, len(hosts), CHUNK):
        rows = session.scalars(
            select(RobotsFileRow).where(
                RobotsFileRow.host.in_(list(hosts[start : start + CHUNK])),
                RobotsFileRow.expires_at > now,
            )
        )
        for row in rows:
            found[row.host] = RobotsRecord(
                row.host, row.status_code, row.body, row.fetched_at, row.expires_at
            )
    return found


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(RobotsFileRow)


def save_robots(session: Session, records: Iterable[RobotsRecord], now: datetime) -> int:
    """Keep these answers (a host's newer answer replaces its older one) and drop the expired
    ones; how many were saved."""
    latest = {record.host: record for record in records}
    rows = [
        {
            "host": r.host,
            "status_code": r.status_code,
            "body": r.body,
            "fetched_at": r.fetched_at,
            "expires_at": r.expires_at,
        }
        for r in latest.values()
    ]
    session.execute(delete(RobotsFileRow).where(RobotsFileRow.expires_at <= now))
    for start in range(0, len(rows), CHUNK):
        statement = _insert(session).values(rows[start : start + CHUNK])
        excluded = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["host"],
                set_={
                    "status_code": excluded.status_code,
                    "body": excluded.body,
                    "fetched_at": excluded.fetched_at,
                    "expires_at": excluded.expires_at,
                },
            )
        )
    return len(rows)
