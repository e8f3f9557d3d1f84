"""Per-process state, all of it in one module: the killable extraction pool, the host registries
of the runs in this process and their batches between fetch and store (:func:`park`), and the
``/proc`` liveness checks of runs recorded by others.

Nothing here is created at import. The pool lives as long as the process (or until
:func:`shutdown_pool`); a run's host registry lives as long as the run: the flows release it in
a ``finally`` and :func:`release_run_hook` releases it again from the flow's state hooks, so a
run that fails, crashes or is cancelled never leaves it behind in a long-lived ``serve`` or
worker process."""

from __future__ import annotations

import atexit
import itertools
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import State
from prefect.client.schemas.objects import FlowRun

from flows.hostslots import shared_slots
from flows.inflight import InFlight
from flows.settings import Settings
from tasks.discover.isolate import IsolatedParser
from tasks.extract.workers import ExtractionPool
from tasks.fetch.hosts import HostRegistry

_pool: ExtractionPool | None = None
_pool_lock = threading.Lock()


def extraction_pool(settings: Settings) -> ExtractionPool | None:
    """This process's killable extraction pool, created on first use (``extract_workers=0``:
    extract inline, without a deadline). A change of the workers or limits replaces it."""
    global _pool
    workers, limits = settings.extract_workers, settings.pool_limits
    if workers <= 0:
        return None
    with _pool_lock:
        if _pool is not None and (_pool.size, _pool.limits) != (workers, limits):
            _pool.shutdown()
            _pool = None
        if _pool is None:
            _pool = ExtractionPool(workers, limits)
            atexit.register(shutdown_pool)
        return _pool


_parser: IsolatedParser | None = None


def document_parser(settings: Settings) -> IsolatedParser | None:
    """This process's killable document parser, created on first use; none when extraction runs
    inline (``extract_workers=0``, for debugging), so documents are parsed inline too."""
    global _parser
    if settings.extract_workers <= 0:
        return None
    with _pool_lock:
        if _parser is None:
            _parser = IsolatedParser()
            atexit.register(_parser.close)
        return _parser


def rest_document_parser() -> None:
    """Stop the document parser's helper process until a document needs it again (it restarts
    on the next call): once a run's documents are read, its page phase parses none, and the
    helper's memory (about 34 MB, more after a large feed) is freed for the extraction."""
    with _pool_lock:
        if _parser is not None:
            _parser.close()


def shutdown_pool() -> None:
    global _pool, _parser
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown()
            _pool = None
        if _parser is not None:  # the document parser's helper process goes with the pool
            _parser.close()
            _parser = None


_registries: dict[str, HostRegistry] = {}
_registries_lock = threading.Lock()
_parked: dict[
    str, dict[int, InFlight]
] = {}  # by run key: the run's batches between fetch and store
_tickets = itertools.count(1)


def registry_for(run_key: str, max_failures: int = 5) -> HostRegistry:
    """The host registry of one run in this process (created on first use), shared by every
    batch of the run."""
    with _registries_lock:
        if run_key not in _registries:
            _registries[run_key] = HostRegistry(max_failures)
        return _registries[run_key]


def park(run_key: str, batch: InFlight) -> int:
    """Keep a batch of the run between its fetch and its store; its ticket (a task argument)."""
    with _registries_lock:
        ticket = next(_tickets)
        _parked.setdefault(run_key, {})[ticket] = batch
        return ticket


def parked(run_key: str, ticket: int) -> InFlight:
    with _registries_lock:
        return _parked[run_key][ticket]


def unpark(run_key: str, ticket: int) -> InFlight | None:
    """The batch, no longer kept (``None`` when it was not, or no more)."""
    with _registries_lock:
        return _parked.get(run_key, {}).pop(ticket, None)


def release_registry(run_key: str) -> None:
    """Release the run's host registry and the batches it still keeps."""
    with _registries_lock:
        registry = _registries.pop(run_key, None)
        _parked.pop(run_key, None)
    if registry is not None:
        registry.close()  # the run's per-host sessions and their kept-alive connections


def active_registries() -> frozenset[str]:
    """The run keys whose host registry this process still holds."""
    with _registries_lock:
        return frozenset(_registries)


@contextmanager
def run_hosts(run_key: str, settings: Settings | None = None) -> Iterator[str]:
    """Hold ``run_key``'s host registry for the block: released however the block ends. With
    ``settings`` it is made now, with the host turns those settings share with other workers
    (``flows/hostslots.py``)."""
    if settings is not None:
        registry = HostRegistry(settings.host_max_failures, slots=shared_slots(settings))
        with _registries_lock:
            _registries.setdefault(run_key, registry)
    try:
        yield run_key
    finally:
        release_registry(run_key)


def release_run_hook(flow: Any, flow_run: FlowRun, state: State[Any]) -> None:
    """A flow state hook (failure, crash, cancellation): release the flow run's host registry
    (the flows key it by the flow run id), for the ends a ``finally`` in the body cannot see."""
    release_registry(str(flow_run.id))


def process_is_dead(
    host: str | None,
    pid: int | None,
    heartbeat: datetime | None,
    started: datetime | None = None,
    *,
    stale_after: timedelta,
) -> bool:
    """A run's process is gone when it ran on this machine and its pid no longer exists, or now
    belongs to a process that started after the run did (the pid was reused, e.g. by this very
    process in a restarted container), or when the run has not shown life (a stored batch) for
    ``stale_after``. The start times compare wall clocks: a forward clock step of more than
    PID_CLOCK_SLACK during a run can make a live run look reused (it then finishes normally)."""
    if host == socket.gethostname() and pid is not None:
        ours = pid == os.getpid()
        if not ours:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass  # alive, someone else's: its start time still tells
        born = process_started_at(pid)
        if born is not None and started is not None and born > started + PID_CLOCK_SLACK:
            return True
        if not ours:
            return False  # alive, and nothing says it is another process
    return heartbeat is None or datetime.now(UTC) - heartbeat > stale_after


PID_CLOCK_SLACK = timedelta(seconds=5)  # the boot time is whole seconds; clocks get adjusted


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` started (Linux ``/proc``: its start in clock ticks after boot), or
    None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = int(fields[19])  # field 22, starttime (fields[0] is field 3, the state)
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
