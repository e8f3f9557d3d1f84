"""Reason codes are one typed enumeration (tasks.records.Reason), the README's reason table lists
exactly its members, and no module spells a reason as a bare string."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tasks.records import OK_REASONS, EntrySkip, Reason, http_reason

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CODE = re.compile(r"`([a-z0-9_<>]+)`")


def reason_table() -> list[str]:
    """The codes in the first column of README's ``| reason | meaning |`` table, in order."""
    lines = README.splitlines()
    start = lines.index("| reason | meaning |")
    codes: list[str] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        codes.extend(CODE.findall(line.split("|")[1]))
    return codes


def test_readme_reason_table_lists_exactly_the_enum() -> None:
    codes = reason_table()
    assert len(codes) == len(set(codes)), "a reason is listed twice"
    assert set(codes) == {member.value for member in Reason} | {"http_<status>"}


def test_readme_names_every_entry_skip_reason() -> None:
    paragraph = README[README.index("**Broken and hostile documents.**") :].split("\n\n")[0]
    listed = set(CODE.findall(paragraph.split("The rules, and why")[0]))
    assert {member.value for member in EntrySkip} <= listed


def test_reasons_are_their_strings() -> None:
    assert str(Reason.OK) == "ok" and f"{Reason.HOST_SKIPPED}" == "host_skipped"
    assert isinstance(Reason.TIMEOUT, str) and "timeout" in {Reason.TIMEOUT}
    assert http_reason(404) == "http_404"
    assert OK_REASONS == ("ok", "not_modified")
    assert all(type(code) is str for code in OK_REASONS)  # bound in SQL as plain text


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def bare_reasons(source: str) -> list[tuple[int, str]]:
    """String constants equal to a reason code, other than docstrings, dict keys and ``__all__``
    entries (where the same word is a name, not a reason)."""
    values = {member.value for member in Reason} | {member.value for member in EntrySkip}
    tree = ast.parse(source)
    allowed = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            allowed.update(id(key) for key in node.keys if key is not None)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            allowed.update(id(n) for n in ast.walk(node.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in values
        and id(node) not in allowed
    ]


SOURCES = sorted(
    path
    for package in ("flows", "tasks", "storage")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts and path != ROOT / "tasks" / "records.py"
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_bare_reason_strings(path: Path) -> None:
    assert bare_reasons(path.read_text(encoding="utf-8")) == []


def test_bare_reason_check_can_fail() -> None:
    source = 'x = FetchOutcome(url, "page", "timeout")\nconfig = {"timeout": 3}\n'
    assert bare_reasons(source) == [(1, "timeout")]
