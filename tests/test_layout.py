"""The shape of the code: imports run one way, and nothing connects at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", package_files("tasks"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layout_tasks_import_neither_storage_nor_flows(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in {"storage", "flows"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", package_files("storage"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layout_storage_imports_only_the_records_contract(path: Path) -> None:
    modules = imported_modules(path)
    bad = {m for m in modules if m.split(".")[0] == "flows"}
    bad |= {m for m in modules if m.startswith("tasks") and not m.startswith("tasks.records")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_layout_importing_everything_connects_nothing() -> None:
    code = (
        "import gc, requests, sqlalchemy\n"
        "import flows.cli, flows.ingest, flows.runtime, flows.serve, flows.steps\n"
        "import storage.repository\n"
        "import storage.engine, tasks.extract.extract\n"
        "assert not storage.engine._engines, 'engine created at import'\n"
        "objs = gc.get_objects()\n"
        "assert not [o for o in objs if isinstance(o, requests.Session)], 'HTTP session'\n"
        "assert not [o for o in objs if isinstance(o, sqlalchemy.Engine)], 'engine'\n"
        "assert flows.runtime._pool is None, 'process pool at import'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
