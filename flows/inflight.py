"""One batch of pages between its fetch and its store (``flows/pipeline.py`` runs them).

The fetching threads hand each page to :meth:`InFlight.arrived` as soon as it is fetched. Until
the batch is :meth:`InFlight.open`\\ ed (its source's previous batch is stored, so the boilerplate
lines that batch taught are known), a fetched page is held; then it goes to the extraction pool at
once, and so does every page fetched after. The batch is done (:attr:`InFlight.done`) when every
page is fetched and every fetched page extracted; :meth:`InFlight.pages` then gives each item with
its fetch and extraction, in the items' order. An ``InFlight`` lives in the run's state
(``flows/runtime.py:park``), never in a task's arguments or result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from tasks.records import ExtractedPage, ExtractionResult, FeedItem, FetchedPage, FetchOutcome

Submit = Callable[[FetchOutcome], "Future[ExtractionResult]"]


def extractable(outcome: FetchOutcome) -> bool:
    return outcome.ok and outcome.body is not None


class _Countdown:
    """The extractions still running and the batch's done signal. Kept apart from the batch: a
    pool future keeps its callbacks, so a callback holding the batch would make a reference
    cycle (batch -> future -> callback -> batch) that only the cyclic garbage collector frees,
    and with it every page body of the batch, long after the batch was stored."""

    def __init__(self) -> None:
        self.done: Future[None] = Future()
        self._lock = threading.Lock()
        self._pending = 0  # extractions decided on and not yet finished
        self._fetched = self._open = self._signalled = False

    def add(self, count: int = 1, *, fetched: bool = False, opened: bool = False) -> None:
        with self._lock:
            self._pending += count
            self._fetched = self._fetched or fetched
            self._open = self._open or opened
        self._settle()

    def finished(self, _future: object = None) -> None:
        self.add(-1)

    def _settle(self) -> None:
        with self._lock:
            ready = self._fetched and self._open and self._pending == 0
            if not ready or self._signalled:
                return
            self._signalled = True
        self.done.set_result(None)  # outside the lock: its callbacks run here


class InFlight:
    """A batch's items, their fetches as they arrive and their extractions (thread-safe)."""

    def __init__(self, items: Sequence[FeedItem]) -> None:
        self.items = list(items)
        self.robots: list[FetchOutcome] = []  # the fetch's robots.txt side-fetches
        self._count = _Countdown()
        self.done = self._count.done
        self._lock = threading.Lock()
        self._outcomes: dict[int, FetchOutcome] = {}
        self._futures: dict[int, Future[ExtractionResult]] = {}
        self._held: list[int] = []
        self._submit: Submit | None = None

    def arrived(self, index: int, outcome: FetchOutcome) -> None:
        """The item at ``index`` was fetched (from a fetching thread): extract it now when the
        batch is open, else hold it."""
        with self._lock:
            self._outcomes[index] = outcome
            if not extractable(outcome):
                return
            if self._submit is None:
                self._held.append(index)
                return
            submit = self._submit
            self._count.add(1)
        self._start(submit, index, outcome)

    def open(self, submit: Submit) -> None:
        """The batch may be extracted: the held pages go to ``submit`` now, later ones on
        arrival."""
        with self._lock:
            if self._submit is not None:
                return
            self._submit, held, self._held = submit, self._held, []
            todo = [(index, self._outcomes[index]) for index in held]
            self._count.add(len(todo))
        for index, outcome in todo:
            self._start(submit, index, outcome)
        self._count.add(0, opened=True)

    def fetched(self, robots: Sequence[FetchOutcome]) -> None:
        """Every item was fetched (``robots``: the robots.txt fetches made on the way)."""
        with self._lock:
            self.robots = list(robots)
        self._count.add(0, fetched=True)

    def pages(self) -> list[ExtractedPage]:
        """Each item with its fetch and extraction (none when it was not fetched); waits until
        the batch is done."""
        self.done.result()
        out = []
        for index, item in enumerate(self.items):
            future = self._futures.get(index)
            page = FetchedPage(item, self._outcomes[index])
            out.append(ExtractedPage(page, future.result() if future is not None else None))
        return out

    def _start(self, submit: Submit, index: int, outcome: FetchOutcome) -> None:
        try:
            future = submit(outcome)
        except BaseException as exc:  # a failure of the pool itself: the batch fails with it
            future = Future()
            future.set_exception(exc)
        with self._lock:
            self._futures[index] = future
        future.add_done_callback(self._count.finished)  # holds the countdown, not the batch
