"""Test isolation: a private PREFECT_HOME, telemetry off, the corpus, loopback servers, and a fresh
database per test on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports prefect: a private home, no telemetry, a patient ephemeral start.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="newsflow-prefect-home-")
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
os.environ["PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL"] = "WARNING"
# Quiet: the ephemeral server logs its shutdown after pytest has closed the captured streams.
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
for _key in [k for k in os.environ if k.startswith("NEWSFLOW_")]:
    if _key != "NEWSFLOW_CORPUS":
        del os.environ[_key]
os.environ.pop("PREFECT_API_URL", None)

from tests.loopback import LoopbackServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "NEWSFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = Path(os.environ.get("NEWSFLOW_CORPUS", ROOT.parent / "shared" / "corpus"))
    if not (path / "web").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus not found at {path} (set NEWSFLOW_CORPUS)")
        pytest.skip(f"corpus not found at {path} (set NEWSFLOW_CORPUS)")
    return path


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    yield srv
    srv.close()


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip()


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(postgres_admin: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    from storage.engine import dispose_engines

    name = f"newsflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_admin).set(drivername="postgresql+psycopg", database=name)
    yield url.render_as_string(hide_password=False)
    dispose_engines()
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    from storage.engine import dispose_engines

    yield f"sqlite:///{tmp_path / 'newsflow.db'}"
    dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_db(db_url: str) -> str:
    from storage.migrate import upgrade

    upgrade(db_url)
    return db_url
