-- The Prefect server keeps its own state in a separate database on the same PostgreSQL.
CREATE DATABASE prefect OWNER newsflow;
