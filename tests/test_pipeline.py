"""A run's batches pipelined (flows/pipeline.py, flows/inflight.py): a batch's fetched pages are
held until the batch is opened, then extracted; the next batch fetches while earlier ones are
still extracted; a source's next batch is opened only once the one before is stored; no more than
``batches_in_flight`` batches are open. The steps are replaced by recording fakes (no network, no
timing: the order of events is what is checked)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from flows import pipeline, runtime, steps
from flows.inflight import InFlight
from flows.runner import LocalRunner
from flows.settings import Settings
from tasks.records import ExtractionResult, FeedItem, FetchOutcome, RunCounts
from tasks.sources import SourceConfig


def _item(n: int) -> FeedItem:
    return FeedItem(url=f"http://site.test/{n}", canonical_url=f"http://site.test/{n}")


def _ok(n: int) -> FetchOutcome:
    return FetchOutcome(f"http://site.test/{n}", "page", "ok", status_code=200, body=b"<p>x</p>")


def _failed(n: int) -> FetchOutcome:
    return FetchOutcome(f"http://site.test/{n}", "page", "http_404", status_code=404)


def test_inflight_holds_fetched_pages_until_opened_then_extracts_them() -> None:
    flight = InFlight([_item(0), _item(1), _item(2)])
    submitted: list[str] = []

    def submit(outcome: FetchOutcome) -> Future[ExtractionResult]:
        submitted.append(outcome.url)
        future: Future[ExtractionResult] = Future()
        future.set_result(ExtractionResult(outcome.url, None, "too_short"))
        return future

    flight.arrived(1, _ok(1))
    flight.arrived(2, _failed(2))  # not fetched: never extracted
    assert submitted == []
    flight.open(submit)
    assert submitted == ["http://site.test/1"]
    flight.arrived(0, _ok(0))  # after opening: extracted on arrival
    assert submitted == ["http://site.test/1", "http://site.test/0"]
    assert not flight.done.done()  # not every page is fetched yet
    flight.fetched([])
    assert flight.done.done()
    pages = flight.pages()
    assert [p.page.item.url for p in pages] == [f"http://site.test/{n}" for n in range(3)]
    assert [p.extraction is not None for p in pages] == [True, True, False]


def test_inflight_is_done_only_when_every_extraction_is() -> None:
    flight = InFlight([_item(0)])
    pending: Future[ExtractionResult] = Future()
    flight.open(lambda outcome: pending)
    flight.arrived(0, _ok(0))
    flight.fetched([])
    assert not flight.done.done()
    pending.set_result(ExtractionResult("http://site.test/0", None, "too_short"))
    assert flight.done.done()


class FakeSteps:
    """fetch_batch / open_batch / store_extracted that record what happened, in order. With
    ``hold_first``, the first batch's extractions finish only once another batch's fetch has
    begun (or after a long safety timeout, so a broken pipeline fails instead of hanging)."""

    def __init__(self, hold_first: bool = False) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.open_now: set[int] = set()
        self.most_open = 0
        self.hold_first = hold_first
        self.first: int | None = None
        self.held: list[Future[ExtractionResult]] = []
        self.sources: list[str] = []
        self.safety: threading.Timer | None = None

    def log(self, event: str) -> None:
        with self.lock:
            self.events.append(event)

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held, []
        for future in held:
            future.set_result(ExtractionResult("x", None, "too_short"))

    def fetch_batch(self, settings: Settings, source: Any, run_key: str, ticket: int) -> int:
        with self.lock:
            self.open_now.add(ticket)
            self.most_open = max(self.most_open, len(self.open_now))
        self.log(f"fetch {ticket}")
        if ticket != self.first:
            self.release()
        flight = runtime.parked(run_key, ticket)
        for n, item in enumerate(flight.items):
            flight.arrived(n, _ok(int(item.url.rsplit("/", 1)[1])))
        flight.fetched([])
        return len(flight.items)

    def open_batch(self, settings: Settings, source: Any, run_key: str, ticket: int) -> None:
        self.log(f"open {ticket}")
        self.sources.append(source.name)
        if self.first is None:
            self.first = ticket
            if self.hold_first:
                self.safety = threading.Timer(30, self.release)
                self.safety.daemon = True
                self.safety.start()

        def submit(outcome: FetchOutcome) -> Future[ExtractionResult]:
            future: Future[ExtractionResult] = Future()
            with self.lock:
                if self.hold_first and ticket == self.first:
                    self.held.append(future)
                    return future
            future.set_result(ExtractionResult(outcome.url, None, "too_short"))
            return future

        runtime.parked(run_key, ticket).open(submit)

    def store_extracted(
        self, settings: Settings, source: Any, run_id: int, run_key: str, ticket: int
    ) -> RunCounts:
        flight = runtime.unpark(run_key, ticket)
        assert flight is not None and flight.done.done()  # stored only once extracted
        self.log(f"store {ticket}")
        with self.lock:
            self.open_now.discard(ticket)
        return RunCounts(fetched=len(flight.pages()))


def _run(
    monkeypatch: pytest.MonkeyPatch, fake: FakeSteps, items: dict[str, int], **settings: Any
) -> pipeline.Pipeline:
    for name in ("fetch_batch", "open_batch", "store_extracted"):
        monkeypatch.setattr(steps, name, getattr(fake, name))
    monkeypatch.setattr(runtime, "rest_document_parser", lambda: fake.log("rest 0"))
    config = Settings(database_url="sqlite://", **settings)
    key = "run-test"
    with LocalRunner(max_workers=4) as runner, runtime.run_hosts(key):
        work = pipeline.Pipeline(runner, config, key)
        first = 0
        for name, count in items.items():
            found = steps.Discovery(name, 1, items=[_item(first + n) for n in range(count)])
            first += count
            done: Future[steps.Discovery] = Future()
            done.set_result(found)
            work.discovered(SourceConfig.model_construct(name=name), 1, _Done(done))
        work.run()
    return work


class _Done:
    def __init__(self, future: Future[steps.Discovery]) -> None:
        self.future = future

    def outcome(self) -> tuple[steps.Discovery | None, str | None]:
        return self.future.result(), None

    def on_done(self, callback: Any) -> None:
        self.future.add_done_callback(lambda _f: callback())


def _order(events: list[str]) -> list[str]:
    """The batches' events with tickets counted from 1 (tickets are numbered process-wide)."""
    events = [e for e in events if not e.startswith("rest")]
    first = min(int(e.split()[1]) for e in events)
    return [f"{e.split()[0]} {int(e.split()[1]) - first + 1}" for e in events]


def test_pipeline_fetches_the_next_batch_before_the_first_is_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeSteps(hold_first=True)  # batch 1 is extracted only once batch 2 is fetching
    work = _run(monkeypatch, fake, {"a": 4}, batch_size=2, batches_in_flight=2)
    assert fake.safety is not None
    fake.safety.cancel()

    assert work.outcomes["a"] == [(RunCounts(fetched=2), None)] * 2
    events = _order(fake.events)
    assert events.index("fetch 2") < events.index("store 1")
    assert events.index("store 1") < events.index("open 2")  # its boilerplate is learned first
    assert events.index("open 2") < events.index("store 2")


def test_pipeline_keeps_at_most_batches_in_flight_open(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSteps()
    work = _run(monkeypatch, fake, {"a": 6, "b": 6, "c": 6}, batch_size=2, batches_in_flight=2)

    assert fake.most_open <= 2
    assert [len(work.outcomes[name]) for name in "abc"] == [3, 3, 3]
    stores = [e for e in fake.events if e.startswith("store")]
    assert len(stores) == 9


def test_pipeline_takes_sources_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSteps()
    _run(monkeypatch, fake, {"a": 4, "b": 4}, batch_size=2, batches_in_flight=1)

    assert fake.sources == ["a", "b", "a", "b"]  # one batch open at a time, sources in turn
    assert len([e for e in fake.events if e.startswith("store")]) == 4


def test_pipeline_rests_the_document_parser_once_discovery_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeSteps()
    _run(monkeypatch, fake, {"a": 2, "b": 2}, batch_size=2, batches_in_flight=1)
    assert [e for e in fake.events if e.startswith("rest")] == ["rest 0"]
    assert fake.events.index("rest 0") < next(
        i for i, e in enumerate(fake.events) if e.startswith("store")
    )

    quiet = FakeSteps()
    _run(monkeypatch, quiet, {"a": 0}, batch_size=2, batches_in_flight=1)
    assert quiet.events == []  # nothing to fetch (a no-change run): the parser stays up


def test_pipeline_counts_a_failed_fetch_as_a_failed_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeSteps()

    def broken(settings: Settings, source: Any, run_key: str, ticket: int) -> int:
        raise ConnectionError("no route")

    fake.fetch_batch = broken  # type: ignore[method-assign]
    work = _run(monkeypatch, fake, {"a": 2}, batch_size=2, batches_in_flight=2)

    assert work.outcomes["a"] == [(None, "ConnectionError: no route")]
    assert not [e for e in fake.events if e.startswith("store")]


def test_inflight_is_freed_without_the_cycle_collector() -> None:
    import gc
    import weakref

    flight = InFlight([_item(0)])
    extraction: Future[ExtractionResult] = Future()
    flight.open(lambda outcome: extraction)
    flight.arrived(0, _ok(0))
    flight.fetched([])
    extraction.set_result(ExtractionResult("http://site.test/0", None, "too_short"))
    assert flight.done.done()
    gone = weakref.ref(flight)
    gc.disable()
    try:
        del flight  # the pool's future (and its callback) outlive the batch
        assert gone() is None  # freed at once with its page bodies, no cycle to collect
    finally:
        gc.enable()
    assert extraction.done()
