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


class InFlight:
    """A batch's items, their fetches as they arrive and their extractions (thread-safe)."""

    def __init__(self, items: Sequence[FeedItem]) -> None:
        self.items = list(items)
        self.robots: list[FetchOutcome] = []  # the fetch's robots.txt side-fetches
        self.done: Future[None] = Future()
        self._lock = threading.Lock()
        self._outcomes: dict[int, FetchOutcome] = {}
        self._futures: dict[int, Future[ExtractionResult]] = {}
        self._held: list[int] = []
        self._submit: Submit | None = None
        self._fetched = False
        self._pending = 0  # extractions decided on and not yet finished
        self._signalled = False

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
            submit, self._pending = self._submit, self._pending + 1
        self._start(submit, index, outcome)

    def open(self, submit: Submit) -> None:
        """The batch may be extracted: the held pages go to ``submit`` now, later ones on
        arrival."""
        with self._lock:
            if self._submit is not None:
                return
            self._submit, held, self._held = submit, self._held, []
            self._pending += len(held)
            todo = [(index, self._outcomes[index]) for index in held]
        for index, outcome in todo:
            self._start(submit, index, outcome)
        self._settle(0)

    def fetched(self, robots: Sequence[FetchOutcome]) -> None:
        """Every item was fetched (``robots``: the robots.txt fetches made on the way)."""
        with self._lock:
            self.robots = list(robots)
            self._fetched = True
        self._settle(0)

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
        future.add_done_callback(lambda _done: self._settle(1))

    def _settle(self, finished: int) -> None:
        with self._lock:
            self._pending -= finished
            ready = self._fetched and self._submit is not None and self._pending == 0
            if not ready or self._signalled:
                return
            self._signalled = True
        self.done.set_result(None)  # outside the lock: its callbacks run here
