"""How a flow body runs its steps: as Prefect tasks inside a flow run (``PrefectRunner``: task
runs, states and logs reach the server), or as plain calls in a thread pool (``LocalRunner``:
``newsflow ingest`` with no ``PREFECT_API_URL``, so no temporary Prefect server is started).
The steps are the same ``@task`` functions; the local runner calls their ``.fn``."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
log = logging.getLogger("newsflow")


class Handle(Protocol[T_co]):
    def outcome(self) -> tuple[T_co | None, str | None]:
        """Wait; the step's result, or ``None`` and why it failed."""
        ...

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread) once the step has ended, however it ended."""
        ...


class Runner(Protocol):
    flow_run_id: str | None

    def call(self, step: Any, *args: Any) -> Any: ...

    def submit(self, step: Any, *args: Any, after: Handle[Any] | None = None) -> Handle[Any]:
        """Start ``step(*args)`` once ``after`` (if any) is done, whether it failed or not."""
        ...


class PrefectHandle(Generic[T]):
    def __init__(self, future: Any) -> None:
        self.future = future

    def outcome(self) -> tuple[T | None, str | None]:
        self.future.wait()
        state = self.future.state
        if state.is_completed():
            return self.future.result(), None
        return None, state.message

    def on_done(self, callback: Callable[[], None]) -> None:
        self.future.add_done_callback(lambda _future: callback())


class PrefectRunner:
    """Inside a flow run: each step is a task run of the flow's task runner."""

    def __init__(self) -> None:
        from prefect.runtime import flow_run

        self.flow_run_id: str | None = flow_run.get_id()

    def call(self, step: Any, *args: Any) -> Any:
        return step(*args)

    def submit(self, step: Any, *args: Any, after: Handle[Any] | None = None) -> Handle[Any]:
        from prefect import allow_failure

        wait_for = [allow_failure(after.future)] if isinstance(after, PrefectHandle) else []
        return PrefectHandle(step.submit(*args, wait_for=wait_for))


class LocalHandle(Generic[T]):
    def __init__(self, future: Future[T]) -> None:
        self.future = future

    def outcome(self) -> tuple[T | None, str | None]:
        try:
            return self.future.result(), None
        except Exception as exc:  # logged where it happened; the caller counts it
            return None, f"{type(exc).__name__}: {exc}"

    def on_done(self, callback: Callable[[], None]) -> None:
        self.future.add_done_callback(lambda _future: callback())


class LocalRunner:
    """No Prefect engine: steps are plain calls, submitted ones run in a thread pool (FIFO, so a
    step waiting for an earlier one never waits for one queued behind it)."""

    flow_run_id: str | None = None

    def __init__(self, max_workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="newsflow-step")

    def call(self, step: Any, *args: Any) -> Any:
        return getattr(step, "fn", step)(*args)

    def submit(self, step: Any, *args: Any, after: Handle[Any] | None = None) -> Handle[Any]:
        fn = getattr(step, "fn", step)
        name = getattr(step, "name", getattr(fn, "__name__", "step"))

        def run() -> Any:
            if after is not None:
                after.outcome()
            try:
                return fn(*args)
            except Exception as exc:
                log.warning("%s failed: %s: %s", name, type(exc).__name__, exc)
                raise

        context = contextvars.copy_context()
        return LocalHandle(self._pool.submit(context.run, run))

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def keep_logs_local() -> None:
    """No server to send logs to: Prefect's API log handlers drop every record (else each log
    line outside a flow run would warn that it has no flow run id). Prefect's console logging
    is set up as a flow run would have it."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import APILogHandler

    ensure_logging_setup()
    ours = logging.getLogger("newsflow")
    if ours.level == logging.NOTSET:  # as verbose as Prefect's own (PREFECT_LOGGING_LEVEL)
        ours.setLevel(logging.getLogger("prefect").getEffectiveLevel())
    for name in ("", "prefect", "prefect.extra", "newsflow"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, APILogHandler):
                handler.addFilter(lambda record: False)


def prefect_server_configured() -> bool:
    """Whether Prefect has an API URL (environment or profile): runs then go to that server."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())
