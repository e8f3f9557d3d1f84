"""full-text search: tsvector + GIN (PostgreSQL), FTS5 kept in sync by triggers (SQLite)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 05:10:00

Neither object is in the SQLAlchemy models: ``storage/migrations/env.py`` tells ``alembic check``
to ignore them.

PostgreSQL: ``articles.search_vector``, a generated column (title weight A, text weight B) parsed
with the text search configuration of the article's language, and a GIN index on it. The text is
indexed up to its first 250,000 characters: a tsvector holds at most 1 MB of lexemes, and an
article whose text exceeded it would make its whole batch fail to insert.

SQLite: ``articles_fts``, an FTS5 table over ``articles(title, text)`` without its own copy of the
text (external content), kept in sync by three triggers. A later migration that rebuilds
``articles`` in batch mode (copy, drop, rename) drops the triggers and must create them again.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# ISO 639-1 code -> PostgreSQL text search configuration; every other language is 'simple'.
# Frozen here; storage/search.py holds the same mapping (a test compares them).
LANGUAGE_CONFIGS = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ru": "russian",
    "sv": "swedish",
    "da": "danish",
    "fi": "finnish",
    "hu": "hungarian",
    "no": "norwegian",
    "nb": "norwegian",
    "ro": "romanian",
    "tr": "turkish",
}
TEXT_CHARS = 250_000
TITLE_CHARS = 1_000

_WHENS = " ".join(
    f"WHEN '{code}' THEN '{cfg}'::regconfig" for code, cfg in LANGUAGE_CONFIGS.items()
)
_CONFIG = f"(CASE split_part(lower(language), '-', 1) {_WHENS} ELSE 'simple'::regconfig END)"

PG_UPGRADE = [
    f"""ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector({_CONFIG}, left(coalesce(title, ''), {TITLE_CHARS})), 'A')
    || setweight(to_tsvector({_CONFIG}, left(text, {TEXT_CHARS})), 'B')
) STORED""",
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
]
PG_DOWNGRADE = [
    "DROP INDEX ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN search_vector",
]

# The external-content pattern of https://sqlite.org/fts5.html#external_content_tables: the index
# is told the old values on delete and update ('delete' command), the new ones on insert.
SQLITE_UPGRADE = [
    """CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content='articles', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
)""",
    """CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    """CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END""",
    # Only changes of the indexed columns touch the index (not checked_at, duplicate_of, ...).
    """CREATE TRIGGER articles_fts_au AFTER UPDATE OF id, title, text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER articles_fts_au",
    "DROP TRIGGER articles_fts_ad",
    "DROP TRIGGER articles_fts_ai",
    "DROP TABLE articles_fts",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in PG_UPGRADE if postgresql else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWNGRADE if postgresql else SQLITE_DOWNGRADE:
        op.execute(statement)
