"""The SQL of shared host politeness (``host_slots``): every worker of one database takes its turn
on a host here, so two processes feeding one host together keep one delay between requests.

A turn is a lease: :func:`claim_slot` atomically takes the host when it is free (``free_after`` has
passed), holding it for ``hold`` seconds (a crashed worker's lease runs out by itself);
:func:`release_slot` ends the holder's lease with the host free again ``pause`` seconds later. The
time is the database's (PostgreSQL ``clock_timestamp()``, SQLite's ``'now'``), so workers whose
clocks differ agree. Functions take a session the caller owns (and commits at once: a turn must be
visible to the other workers as soon as it is taken)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Double, cast, func, select, update
from sqlalchemy.orm import Session

from storage.models import HostSlotRow
from storage.sql import dialect_insert

UNIX_EPOCH_JULIAN_DAY = 2440587.5  # SQLite's julianday() of 1970-01-01 00:00 UTC
SOON = 0.01  # seconds: the least wait answered (0.0 means "the turn is yours")


def _now(session: Session) -> Any:
    """The database's current time, in seconds since 1970."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", func.clock_timestamp()), Double)
    return (func.julianday("now") - UNIX_EPOCH_JULIAN_DAY) * 86400.0


def claim_slot(session: Session, host: str, holder: str, hold: float) -> float:
    """Take ``host`` for ``holder`` when it is free: ``0.0``, the turn is taken (for at most
    ``hold`` seconds); else the seconds until it is free (at least :data:`SOON`)."""
    now = _now(session)
    statement = dialect_insert(session, HostSlotRow).values(
        host=host, free_after=now + hold, holder=holder
    )
    statement = statement.on_conflict_do_update(
        index_elements=[HostSlotRow.host],
        set_={"free_after": statement.excluded.free_after, "holder": statement.excluded.holder},
        where=HostSlotRow.free_after <= now,
    ).returning(HostSlotRow.host)
    if session.execute(statement).first() is not None:
        return 0.0
    wait = session.execute(
        select(HostSlotRow.free_after - now).where(HostSlotRow.host == host)
    ).scalar_one()
    return max(float(wait), SOON)


def release_slot(session: Session, host: str, holder: str, pause: float) -> None:
    """End ``holder``'s turn on ``host``: free again ``pause`` seconds from now. A lease that ran
    out and was taken by another worker is left alone."""
    session.execute(
        update(HostSlotRow)
        .where(HostSlotRow.host == host, HostSlotRow.holder == holder)
        .values(free_after=_now(session) + pause, holder=None)
    )
