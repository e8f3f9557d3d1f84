"""docs/architecture.md names real functions: every `module:function` it cites exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
CITED = sorted(set(re.findall(r"`((?:flows|tasks|storage)\.[\w.]+):([\w.]+)`", DOC.read_text())))


def test_architecture_doc_walk_has_at_most_twelve_steps() -> None:
    steps = re.findall(r"^\d+\. ", DOC.read_text(), flags=re.MULTILINE)
    assert 0 < len(steps) <= 12


@pytest.mark.parametrize(("module", "name"), CITED, ids=[f"{m}:{n}" for m, n in CITED])
def test_architecture_doc_cites_existing_function(module: str, name: str) -> None:
    target: object = importlib.import_module(module)
    for part in name.split("."):
        assert hasattr(target, part), f"{module}:{name} does not exist"
        target = getattr(target, part)
