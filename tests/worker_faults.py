"""Extractors that fail like a native crash would, for the extraction pool's tests (importable by
spawned workers, so they live in a module, not in a test function)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from tasks.extract.extract import PageInput, extract_page
from tasks.records import ExtractionResult

CRASH_MARK = b"<!-- crash the worker -->"


def crash_on_mark(page: PageInput) -> ExtractionResult:
    """``extract_page``, except that a page carrying :data:`CRASH_MARK` kills its process the way
    a segfault or the OOM killer would: no exception, no cleanup."""
    if CRASH_MARK in page.html:
        os._exit(139)
    return extract_page(page)


WAIT_MARK = b"<!-- wait for: "


def wait_on_mark(page: PageInput) -> ExtractionResult:
    """``extract_page``, except that a page carrying ``<!-- wait for: PATH -->`` is held until
    the file PATH exists (at most 60 s): a straggler the test releases when it chooses."""
    start = page.html.find(WAIT_MARK)
    if start >= 0:
        end = page.html.index(b" -->", start)
        path = page.html[start + len(WAIT_MARK) : end].decode()
        for _ in range(600):
            if Path(path).exists():
                break
            time.sleep(0.1)
    return extract_page(page)


def report_language_model(page: PageInput) -> ExtractionResult:
    """``extract_page``, its ``detail`` saying whether py3langid's model is loaded in this
    (worker) process."""
    from tasks.extract.metadata import _identifier

    result = extract_page(page)
    return replace(result, detail=f"model loaded: {_identifier.cache_info().currsize > 0}")


def slow_warm_up(page: PageInput) -> ExtractionResult:
    """``extract_page``, except that the pool's warm-up page takes 60 s (a worker that is slow
    to start)."""
    if page.url.startswith("http://warm-up.invalid/"):
        time.sleep(60)
    return extract_page(page)
