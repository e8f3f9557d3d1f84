"""full-text search finds Chinese, Japanese and Korean words (PostgreSQL bigrams, SQLite trigrams)

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-04 19:10:00

Those scripts write words without spaces: both word indexes of 0005 held a whole clause as one
word. An article is treated the CJK way when its title or text holds a CJK character (Han, kana,
Hangul: ``RANGES``), whatever its language.

PostgreSQL: ``newsflow_search_text(text)``, an immutable SQL function (no extension), writes every
run of CJK characters as its overlapping bigrams, each followed by the run's last character alone
(``北京市`` -> ``北京 京市 市``); ``articles.search_vector`` is generated again through it (every
existing row is recomputed), so a word of any length is found through the GIN index. A text
with CJK characters is indexed up to its first 50,000 characters (its bigrams must fit a
tsvector's 1 MB), any other up to 250,000 as before.

SQLite: ``articles_cjk``, an FTS5 ``trigram`` table over ``articles(title, text)`` holding only
the CJK articles (external content, kept in sync by three triggers, filled here for the existing
rows), and ``ix_articles_cjk``, a partial index of their ids: terms shorter than three characters,
which a trigram index cannot match, are looked for in those rows' text. A later migration that
rebuilds ``articles`` in batch mode must create the triggers and the partial index again.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen here; storage/cjk.py holds the same ranges (a test compares them).
RANGES = (
    (0x1100, 0x11FF),
    (0x2E80, 0x2FDF),
    (0x3005, 0x3007),
    (0x3040, 0x30FF),
    (0x3130, 0x318F),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
    (0x20000, 0x2FA1F),
)
TEXT_CHARS = 250_000
CJK_TEXT_CHARS = 50_000
TITLE_CHARS = 1_000


def _previous(filename: str) -> ModuleType:
    """An earlier migration of this directory, for what it made."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"_newsflow_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


_PG_CLASS = "".join(f"{_escape(lo)}-{_escape(hi)}" for lo, hi in RANGES)
_SQLITE_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in RANGES)
SQLITE_PATTERN = f"*[{_SQLITE_CLASS}]*"


def _sqlite_row(prefix: str = "") -> str:
    return f"({prefix}title GLOB '{SQLITE_PATTERN}' OR {prefix}text GLOB '{SQLITE_PATTERN}')"


PG_FUNCTION = f"""CREATE FUNCTION newsflow_search_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN value !~ '[{_PG_CLASS}]' THEN left(value, {TEXT_CHARS}) ELSE (
  SELECT string_agg(CASE WHEN r.m[1] ~ '^[{_PG_CLASS}]' THEN (
      SELECT string_agg(b.pair, ' ' ORDER BY b.i) FROM (
        SELECT c.i, c.ch || coalesce(lead(c.ch) OVER (ORDER BY c.i), '') AS pair
        FROM regexp_split_to_table(r.m[1], '') WITH ORDINALITY AS c(ch, i)) b)
    ELSE r.m[1] END, ' ' ORDER BY r.n)
  FROM regexp_matches(left(value, {CJK_TEXT_CHARS}), '[{_PG_CLASS}]+|[^{_PG_CLASS}]+', 'g')
       WITH ORDINALITY AS r(m, n)) END
$$"""


def _pg_upgrade() -> list[str]:
    config = _previous("0005_full_text_search.py")._CONFIG
    return [
        PG_FUNCTION,
        "DROP INDEX ix_articles_search_vector",
        "ALTER TABLE articles DROP COLUMN search_vector",
        f"""ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector({config},
        newsflow_search_text(left(coalesce(title, ''), {TITLE_CHARS}))), 'A')
    || setweight(to_tsvector({config}, newsflow_search_text(text)), 'B')
) STORED""",
        "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
    ]


SQLITE_UPGRADE = [
    """CREATE VIRTUAL TABLE articles_cjk USING fts5(
    title, text, content='articles', content_rowid='id', tokenize='trigram'
)""",
    f"""CREATE TRIGGER articles_cjk_ai AFTER INSERT ON articles WHEN {_sqlite_row("new.")} BEGIN
    INSERT INTO articles_cjk(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    f"""CREATE TRIGGER articles_cjk_ad AFTER DELETE ON articles WHEN {_sqlite_row("old.")} BEGIN
    INSERT INTO articles_cjk(articles_cjk, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END""",
    # The index must be told exactly what it holds: the old values if they were CJK.
    f"""CREATE TRIGGER articles_cjk_au AFTER UPDATE OF id, title, text ON articles BEGIN
    INSERT INTO articles_cjk(articles_cjk, rowid, title, text)
    SELECT 'delete', old.id, old.title, old.text WHERE {_sqlite_row("old.")};
    INSERT INTO articles_cjk(rowid, title, text)
    SELECT new.id, new.title, new.text WHERE {_sqlite_row("new.")};
END""",
    f"CREATE INDEX ix_articles_cjk ON articles (id) WHERE {_sqlite_row()}",
    f"""INSERT INTO articles_cjk(rowid, title, text)
SELECT id, title, text FROM articles WHERE {_sqlite_row()}""",
]
SQLITE_DOWNGRADE = [
    "DROP INDEX ix_articles_cjk",
    "DROP TRIGGER articles_cjk_au",
    "DROP TRIGGER articles_cjk_ad",
    "DROP TRIGGER articles_cjk_ai",
    "DROP TABLE articles_cjk",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _pg_upgrade() if postgresql else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
        return
    op.execute("DROP INDEX ix_articles_search_vector")
    op.execute("ALTER TABLE articles DROP COLUMN search_vector")
    for statement in _previous("0005_full_text_search.py").PG_UPGRADE:
        op.execute(statement)
    op.execute("DROP FUNCTION newsflow_search_text(text)")
