"""The pipeline's steps as plain, typed functions (no database, no Prefect)."""
