"""Extractors that fail like a native crash would, for the extraction pool's tests (importable by
spawned workers, so they live in a module, not in a test function)."""

from __future__ import annotations

import os

from tasks.extract import ExtractionResult, PageInput, extract_page

CRASH_MARK = b"<!-- crash the worker -->"


def crash_on_mark(page: PageInput) -> ExtractionResult:
    """``extract_page``, except that a page carrying :data:`CRASH_MARK` kills its process the way
    a segfault or the OOM killer would: no exception, no cleanup."""
    if CRASH_MARK in page.html:
        os._exit(139)
    return extract_page(page)
