"""A run's batches, pipelined so the extraction pool stays fed.

Each source's discovery is a step; once it is done, its items are cut into batches. A batch of
pages takes two steps: ``fetch_batch`` fetches its pages politely and hands each one on as it
arrives (``flows/inflight.py``); once every page is fetched and extracted, ``store_extracted``
stores the batch in one transaction (a short step: the extraction is already done). A re-check
batch is one step (``recheck_batch``). At most ``batches_in_flight`` batches are open (between the
start of their fetch and the end of their store) at once, which bounds the pages held in memory;
batches of different sources take turns. A batch's pages go to the pool as soon as its source's
previous batch is stored (so the boilerplate that batch taught is stripped from this one); until
then, its fetched pages wait, while other sources' pages are extracted.

This module only decides *when* a step starts: every step is started by the flow's own thread when
it can run at once, so no step ever holds one of the task runner's threads waiting for another
(a Prefect task submitted with ``wait_for`` would). Task runs stay proportional to batches.
"""

from __future__ import annotations

import itertools
import logging
import queue
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flows import runtime, steps
from flows.inflight import InFlight
from flows.runner import Handle, Runner
from flows.settings import Settings
from tasks.records import FeedItem, Recheck, RunCounts
from tasks.sources import SourceConfig

log = logging.getLogger("newsflow")
BatchOutcome = tuple[RunCounts | None, str | None]  # a batch's counts, or None and why it failed


@dataclass(eq=False)
class _Batch:
    source: SourceConfig
    run_id: int
    items: list[FeedItem] = field(default_factory=list)
    rechecks: list[Recheck] = field(default_factory=list)
    ticket: int = 0  # its InFlight in the run's state (pages only)
    ended: bool = False


def cut(values: list[Any], size: int) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class Pipeline:
    """The batches of one run (module docstring): :meth:`discovered` for each source's discovery
    handle, then :meth:`run`; afterwards :attr:`found` and :attr:`outcomes` by source name."""

    def __init__(self, runner: Runner, settings: Settings, run_key: str) -> None:
        self.runner, self.settings, self.run_key = runner, settings, run_key
        self.limit = settings.batches_in_flight
        self.found: dict[str, steps.Discovery | None] = {}
        self.outcomes: dict[str, list[BatchOutcome]] = {}
        self._events: queue.Queue[Callable[[], None]] = queue.Queue()
        self._todo: dict[str, deque[_Batch]] = {}  # by source, in insertion order
        self._turns = itertools.count()
        self._open: list[_Batch] = []  # started and not ended, oldest first
        self._discovering = 0

    def discovered(
        self, source: SourceConfig, run_id: int, handle: Handle[steps.Discovery]
    ) -> None:
        """Queue the source's batches once ``handle`` (its discovery step) is done."""
        self._discovering += 1
        self.outcomes[source.name] = []
        self._when(handle, lambda: self._on_discovery(source, run_id, handle))

    def run(self) -> None:
        """Until every discovery is done and every batch ended."""
        while self._discovering or self._open or any(self._todo.values()):
            self._start_more()
            if self._discovering or self._open:
                self._events.get()()

    def _when(self, handle: Handle[Any], then: Callable[[], None]) -> None:
        handle.on_done(lambda: self._events.put(then))

    def _on_discovery(
        self, source: SourceConfig, run_id: int, handle: Handle[steps.Discovery]
    ) -> None:
        self._discovering -= 1
        found = self.found[source.name] = handle.outcome()[0]
        if found is not None:
            size = self.settings.batch_size
            todo = [_Batch(source, run_id, items=b) for b in cut(found.items, size)]
            todo += [_Batch(source, run_id, rechecks=b) for b in cut(found.rechecks, size)]
            self._todo[source.name] = deque(todo)
        if not self._discovering and any(self._todo.values()):
            runtime.rest_document_parser()  # no document is parsed while pages are

    def _start_more(self) -> None:
        """Start batches while fewer than ``limit`` are open, the sources taking turns."""
        while len(self._open) < self.limit and any(self._todo.values()):
            names = [name for name, todo in self._todo.items() if todo]
            name = names[next(self._turns) % len(names)]
            self._start(self._todo[name].popleft())

    def _start(self, batch: _Batch) -> None:
        self._open.append(batch)
        settings, source, key = self.settings, batch.source, self.run_key
        if batch.rechecks:
            args = (settings, source, batch.run_id, key, batch.rechecks)
            handle = self.runner.submit(steps.recheck_batch, *args)
            self._when(handle, lambda: self._end(batch, handle.outcome()))
            return
        flight = InFlight(batch.items)
        batch.ticket = runtime.park(key, flight)
        flight.done.add_done_callback(lambda _done: self._events.put(lambda: self._store(batch)))
        fetch = self.runner.submit(steps.fetch_batch, settings, source, key, batch.ticket)
        self._when(fetch, lambda: self._fetched(batch, fetch))
        if self._first_of_source(batch):
            self._open_batch(batch)

    def _first_of_source(self, batch: _Batch) -> bool:
        same = [b for b in self._open if b.source.name == batch.source.name and not b.rechecks]
        return bool(same) and same[0] is batch

    def _open_batch(self, batch: _Batch) -> None:
        try:
            steps.open_batch(self.settings, batch.source, self.run_key, batch.ticket)
        except Exception as exc:  # e.g. the learned lines could not be read: the batch fails
            log.warning("%s: could not start extracting a batch: %s", batch.source.name, exc)
            self._end(batch, (None, f"{type(exc).__name__}: {exc}"))

    def _fetched(self, batch: _Batch, handle: Handle[int]) -> None:
        fetched, why = handle.outcome()
        if fetched is None:  # the fetch step failed: the batch will never be done
            self._end(batch, (None, why))

    def _store(self, batch: _Batch) -> None:
        if batch.ended:
            return
        args = (self.settings, batch.source, batch.run_id, self.run_key, batch.ticket)
        handle = self.runner.submit(steps.store_extracted, *args)
        self._when(handle, lambda: self._end(batch, handle.outcome()))

    def _end(self, batch: _Batch, outcome: BatchOutcome) -> None:
        """The batch is over (stored, or failed): its slot is free and its source's next batch
        may be extracted."""
        if batch.ended:
            return
        batch.ended = True
        self.outcomes[batch.source.name].append(outcome)
        self._open.remove(batch)
        if batch.ticket:
            runtime.unpark(self.run_key, batch.ticket)
        nxt = [b for b in self._open if b.source.name == batch.source.name and not b.rechecks]
        if nxt and not batch.rechecks:
            self._open_batch(nxt[0])
