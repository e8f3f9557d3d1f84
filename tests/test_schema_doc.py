"""docs/schema.md cannot drift: a migrated database of each dialect is reflected, and every table,
view, column (type and nullability), key, index and foreign key must be described there, and
everything described there must exist.

Optional: the full-text search objects of migrations 0005 and 0015 exist on one dialect only
(SQLite's FTS5 tables ``articles_fts`` and ``articles_cjk`` and the partial index
``ix_articles_cjk``, PostgreSQL's ``articles.search_vector`` and its index); they are described
and checked where they exist. FTS5's internal shadow tables (``articles_fts_*``,
``articles_cjk_*``) are not described.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Boolean, DateTime, Float, Integer, LargeBinary, Numeric, String, inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.types import NullType, TypeEngine

from storage.engine import dispose_engines, get_engine
from storage.migrate import upgrade
from tests.analytics_data import DIALECTS, create_pg_database, drop_pg_database

DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"
OPTIONAL_TABLES = {"articles_fts", "articles_cjk"}
OPTIONAL_COLUMNS = {("articles", "search_vector")}
OPTIONAL_NAMES = {"ix_articles_search_vector", "ix_articles_cjk"}
SHADOW = re.compile(r"^articles_(fts|cjk)_")


@dataclass
class Column:
    type: str
    nullable: bool | None  # None for views (not documented)
    meaning: str


@dataclass
class Section:
    kind: str  # "table" | "view"
    text: str
    columns: dict[str, Column] = field(default_factory=dict)


def parse(doc: str) -> dict[str, Section]:
    """The doc's ``### `name``` sections under ``## Tables`` and ``## Views``, with their column
    rows (``| `column` | type | null | meaning |``; views have no null cell)."""
    sections: dict[str, Section] = {}
    kind = None
    current: Section | None = None
    for line in doc.splitlines():
        if line.startswith("## "):
            kind = {"## Tables": "table", "## Views": "view"}.get(line.strip())
            current = None
        elif line.startswith("### `") and kind:
            name = line.split("`")[1]
            current = sections[name] = Section(kind, "")
        elif current is not None:
            current.text += line + "\n"
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| `") and len(cells) in (3, 4):
                nullable = {"yes": True, "no": False}[cells[2]] if len(cells) == 4 else None
                current.columns[cells[0].strip("`")] = Column(cells[1], nullable, cells[-1])
    return sections


def mermaid(doc: str) -> str:
    return doc.split("```mermaid", 1)[1].split("```", 1)[0]


SECTIONS = parse(DOC.read_text(encoding="utf-8"))
DIAGRAM = mermaid(DOC.read_text(encoding="utf-8"))


def doc_type(text: str, dialect: str) -> str:
    """The documented type, compared the way the dialect can tell types apart."""
    if dialect == "sqlite" and text in {"bigint", "smallint"}:
        return "integer"  # SQLite: every integer is INTEGER/BIGINT/SMALLINT alike
    return text


def db_type(value: TypeEngine[Any], dialect: str) -> str | None:
    """The reflected type in the doc's words; None when the database does not say (SQLite view
    expressions, FTS5 columns)."""
    if isinstance(value, NullType):
        return None
    if isinstance(value, Boolean):
        return "boolean"
    if isinstance(value, Integer):
        name = type(value).__name__.lower()
        return name if dialect == "postgresql" and name in {"bigint", "smallint"} else "integer"
    if isinstance(value, DateTime):
        return "timestamp"
    if isinstance(value, Float):
        return "float"
    if isinstance(value, Numeric):
        return "decimal"
    if isinstance(value, LargeBinary):
        return "bytes"
    if isinstance(value, String):
        return f"varchar({value.length})" if value.length else "text"
    return type(value).__name__.lower()


def relations(inspector: Inspector) -> tuple[list[str], list[str]]:
    tables = [t for t in inspector.get_table_names() if not SHADOW.match(t)]
    return tables, inspector.get_view_names()


@pytest.fixture(scope="module", params=DIALECTS)
def inspector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Inspector]:
    """A freshly migrated database of each dialect, reflected (one per module and dialect)."""
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'news.db'}"
    else:
        admin = str(request.getfixturevalue("postgres_admin"))
        url = create_pg_database(admin)
    upgrade(url)
    yield inspect(get_engine(url))
    dispose_engines()
    if admin is not None:
        drop_pg_database(admin, url)


def test_schema_doc_describes_every_table_and_view(inspector: Inspector) -> None:
    tables, views = relations(inspector)
    documented = {n for n, s in SECTIONS.items() if s.kind == "table"}

    assert sorted(set(tables) - documented) == [], "undocumented tables"
    assert sorted(documented - set(tables) - OPTIONAL_TABLES) == [], "documented, absent"
    assert sorted(views) == sorted(n for n, s in SECTIONS.items() if s.kind == "view")


def test_schema_doc_describes_every_column(inspector: Inspector) -> None:
    dialect = inspector.dialect.name
    tables, views = relations(inspector)
    problems = []
    for name in tables + views:
        section = SECTIONS[name]
        reflected = {c["name"]: c for c in inspector.get_columns(name)}
        optional = {c for t, c in OPTIONAL_COLUMNS if t == name}
        missing = set(reflected) - set(section.columns)
        absent = set(section.columns) - set(reflected) - optional
        problems += [f"{name}.{c}: not documented" for c in sorted(missing)]
        problems += [f"{name}.{c}: documented, absent" for c in sorted(absent)]
        for column, found in reflected.items():
            doc = section.columns.get(column)
            if doc is None:
                continue
            actual = db_type(found["type"], dialect)
            if actual is not None and actual != doc_type(doc.type, dialect):
                problems.append(f"{name}.{column}: documented {doc.type}, is {actual}")
            if doc.nullable is not None and doc.nullable != found["nullable"]:
                problems.append(f"{name}.{column}: documented null={doc.nullable}, is not")
            if not doc.meaning:
                problems.append(f"{name}.{column}: no meaning")
    assert problems == []


def test_schema_doc_names_every_key_and_index(inspector: Inspector) -> None:
    tables, _ = relations(inspector)
    problems = []
    for name in tables:
        text = SECTIONS[name].text
        found = [inspector.get_pk_constraint(name).get("name")]
        found += [i["name"] for i in inspector.get_indexes(name)]
        found += [u["name"] for u in inspector.get_unique_constraints(name)]
        names = {n for n in found if n}
        problems += [f"{name}: `{n}` not documented" for n in sorted(names) if f"`{n}`" not in text]
        claimed = set(re.findall(r"`((?:pk|uq|ix)_\w+|alembic_version_pkc)`", text))
        problems += [f"{name}: `{n}` absent" for n in sorted(claimed - names - OPTIONAL_NAMES)]
    assert problems == []


def test_schema_doc_gives_every_foreign_key_and_its_rule(inspector: Inspector) -> None:
    tables, _ = relations(inspector)
    problems = []
    for name in tables:
        for fk in inspector.get_foreign_keys(name):
            (column,), (referred,) = fk["constrained_columns"], fk["referred_columns"]
            rule = (fk.get("options") or {}).get("ondelete", "").lower()
            meaning = SECTIONS[name].columns[column].meaning
            if f"→ `{fk['referred_table']}.{referred}` ({rule})" not in meaning:
                problems.append(f"{name}.{column} → {fk['referred_table']}.{referred} ({rule})")
    assert problems == []


def test_schema_doc_diagram_draws_every_table_and_relation(inspector: Inspector) -> None:
    tables, _ = relations(inspector)
    entities = set(re.findall(r"\b([a-z_]+)\s+(?:\|\||\|o|\}o|\{|o\{)", DIAGRAM))
    entities |= set(re.findall(r"[}|]o?--o?[{|]\s+([a-z_]+)\b", DIAGRAM))
    expected = set(tables) - OPTIONAL_TABLES - {"alembic_version"}
    assert sorted(expected - entities) == []
    lines = DIAGRAM.splitlines()
    for name in tables:
        for fk in inspector.get_foreign_keys(name):
            pair = {name, fk["referred_table"]}
            assert any(pair <= set(re.findall(r"[a-z_]+", line)) for line in lines), pair


def test_schema_doc_parser_reads_tables_and_views() -> None:
    assert SECTIONS["articles"].columns["id"] == Column("bigint", False, "primary key")
    assert SECTIONS["v_articles"].columns["authors"].nullable is None
    assert SECTIONS["v_articles"].kind == "view" and SECTIONS["fetches"].kind == "table"
