"""The kill -9 crash-resume trials of ``test_crash_resume`` on PostgreSQL, in a module of their
own so that pytest-xdist (``--dist loadfile``) runs them beside the SQLite trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import test_crash_resume as crash

pytestmark = pytest.mark.slow

site = crash.site  # module-scoped fixtures, instantiated again in this module's process
prefect_api = crash.prefect_api


@pytest.mark.timeout(900)
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_ingest_killed_at_random_points_resumes_on_postgresql(
    migrated_db: str, site: crash.Site, prefect_api: str, tmp_path: Path
) -> None:
    crash.test_ingest_killed_at_random_points_resumes_without_loss_or_duplicates(
        migrated_db, site, prefect_api, tmp_path
    )
