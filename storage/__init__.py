"""Storage: the schema (SQLAlchemy models + Alembic migrations), engines and all SQL."""
