"""Per-host turns shared by every worker of one database: the ``SharedSlots`` a run's host
registry asks before each request (``tasks/fetch/hosts.py``), over ``storage/hostslots.py``.

Each claim and each release is its own short transaction, committed at once, so the other workers
see it. Should the database fail to answer, the run goes on with its own politeness only (one
warning per run), as it would with shared slots off."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from sqlalchemy.exc import SQLAlchemyError

from flows.settings import Settings
from storage import hostslots
from storage.engine import transaction

log = logging.getLogger("newsflow")


class DatabaseSlots:
    """One run's turns in ``host_slots`` (its holder name: machine, process, run)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._warned = False

    def claim(self, key: str, hold: float) -> float:
        try:
            with transaction(self.database_url) as session:
                return hostslots.claim_slot(session, key, self.holder, hold)
        except SQLAlchemyError as exc:
            self._warn(exc)
            return 0.0

    def release(self, key: str, pause: float) -> None:
        try:
            with transaction(self.database_url) as session:
                hostslots.release_slot(session, key, self.holder, pause)
        except SQLAlchemyError as exc:
            self._warn(exc)

    def _warn(self, exc: SQLAlchemyError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("shared host slots unavailable, per-run politeness only: %s", exc)


def shared_slots(settings: Settings) -> DatabaseSlots | None:
    """The run's shared host turns, when the settings share them (PostgreSQL by default)."""
    return DatabaseSlots(settings.database_url) if settings.shares_host_slots else None
