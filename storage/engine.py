"""Engines and sessions: one engine per URL per process, created on first use (never at import)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_READ_ONLY = "newsflow_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event open transactions (see _sqlite_begin), not pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock up front: a deferred transaction that reads and then writes fails at
    # once with "database is locked" when another writer committed in between; an immediate one
    # waits for the busy timeout instead. Read-only connections (see ``reading``) begin deferred:
    # a snapshot that never holds the write lock, so a long export does not stall ingestion.
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def get_engine(url: str) -> Engine:
    """The process's engine for ``url`` (SQLite: WAL, foreign keys, a generous busy timeout)."""
    with _lock:
        if url not in _engines:
            _engines[url] = _create(url)
        return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection of this process and forget the engines."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def reading(url: str) -> Iterator[Connection]:
    """A connection for reads, in one read-only transaction (one consistent snapshot), rolled
    back at the end. SQLite: deferred, so it never takes the write lock; PostgreSQL:
    ``READ ONLY``. Pass ``stream_results``/``yield_per`` to stream large results."""
    engine = get_engine(url)
    options: dict[str, Any] = {_READ_ONLY: True}
    if not is_sqlite(url):
        options["postgresql_readonly"] = True
    with engine.connect().execution_options(**options) as connection:
        yield connection


@contextmanager
def snapshot(url: str) -> Iterator[Session]:
    """A session over :func:`reading`'s read-only connection: one consistent snapshot for ORM
    reads, rolled back at the end."""
    with reading(url) as connection, Session(bind=connection) as session:
        yield session
