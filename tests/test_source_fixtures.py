"""Every recorded source under tests/fixtures (``newsflow sources record``) still parses and
extracts to its ``expected.json``, offline (the Fundus pattern: one test over every recording)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.authoring.recording import EXPECTED, is_recording, replay

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDINGS = sorted(p for p in FIXTURES.iterdir() if is_recording(p)) if FIXTURES.is_dir() else []


def test_source_fixtures_are_recorded() -> None:
    assert len(RECORDINGS) >= 2, f"recordings expected under {FIXTURES}"


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_source_fixture_parses_and_extracts_as_recorded(recording: Path) -> None:
    expected = json.loads((recording / EXPECTED).read_text(encoding="utf-8"))

    assert replay(recording) == expected
