"""In-process progress events: the CLI listens (rich bars); served runs have no listener."""

from __future__ import annotations

import threading
from typing import Protocol


class ProgressListener(Protocol):
    def discovered(self, source: str, total: int) -> None: ...

    def advanced(self, source: str, done: int) -> None: ...


_listeners: list[ProgressListener] = []
_lock = threading.Lock()


def subscribe(listener: ProgressListener) -> None:
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: ProgressListener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def discovered(source: str, total: int) -> None:
    for listener in list(_listeners):
        listener.discovered(source, total)


def advanced(source: str, done: int) -> None:
    for listener in list(_listeners):
        listener.advanced(source, done)
