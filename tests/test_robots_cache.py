"""robots.txt kept across runs (storage/robots.py, flows/robotscache.py): SQLite and PostgreSQL,
and the fetch layer reading a host's cached rules instead of fetching robots.txt again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from flows import robotscache
from storage.engine import transaction
from storage.robots import load_robots, save_robots
from tasks.fetch.hosts import HostRegistry, host_key
from tasks.fetch.polite import fetch_pages
from tasks.fetch.robots import MAX_AGE, keep_for, record_of, rules_of
from tasks.records import FetchOutcome, RobotsRecord
from tests.loopback import LoopbackServer, Route
from tests.test_fetch_faults import HTML, _config

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
RULES = "User-agent: *\nDisallow: /private/\n"


def _record(host: str, at: datetime, body: str = RULES, status: int = 200) -> RobotsRecord:
    return RobotsRecord(host, status, body, at, at + MAX_AGE)


def test_save_robots_then_load_only_unexpired(migrated_db: str) -> None:
    fresh = _record("http://a.test", NOW - timedelta(hours=2))
    stale = _record("http://b.test", NOW - timedelta(hours=25))
    with transaction(migrated_db) as session:
        assert save_robots(session, [fresh, stale], NOW - timedelta(hours=30)) == 2
    with transaction(migrated_db) as session:
        found = load_robots(session, ["http://a.test", "http://b.test", "http://c.test"], NOW)
    assert found == {"http://a.test": fresh}


def test_save_robots_replaces_a_hosts_answer_and_drops_expired_rows(migrated_db: str) -> None:
    old = _record("http://a.test", NOW - timedelta(hours=23))
    gone = _record("http://b.test", NOW - timedelta(hours=25))
    with transaction(migrated_db) as session:
        save_robots(session, [old, gone], NOW - timedelta(hours=30))
    newer = _record("http://a.test", NOW, body="", status=404)
    with transaction(migrated_db) as session:
        save_robots(session, [newer], NOW)
    with transaction(migrated_db) as session:
        found = load_robots(session, ["http://a.test", "http://b.test"], NOW - timedelta(days=2))
    assert found == {"http://a.test": newer}  # b's expired row was deleted


def _outcome(status: int | None, body: bytes | None, reason: str) -> FetchOutcome:
    return FetchOutcome(
        url="http://a.test/robots.txt", kind="robots", reason=reason, status_code=status, body=body
    )


def test_record_of_keeps_rules_and_4xx_but_not_unavailable_answers() -> None:
    ok = record_of("http://a.test", _outcome(200, RULES.encode(), "ok"), NOW)
    missing = record_of("http://a.test", _outcome(404, None, "http_404"), NOW)
    assert ok is not None and ok.body == RULES and ok.expires_at == NOW + timedelta(hours=24)
    assert not rules_of(ok).allows("http://a.test/private/x") and rules_of(ok).allows(
        "http://a.test/"
    )
    assert missing is not None and rules_of(missing).allows("http://a.test/private/x")
    assert record_of("http://a.test", _outcome(503, None, "http_503"), NOW) is None
    assert record_of("http://a.test", _outcome(None, None, "timeout"), NOW) is None


def test_robots_cache_spares_the_next_runs_robots_fetch(
    server: LoopbackServer, sqlite_url: str
) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    server.routes["/robots.txt"] = Route(RULES.encode(), 200, {"Content-Type": "text/plain"})
    server.routes["/a"] = Route(HTML)
    server.routes["/private/b"] = Route(HTML)
    urls = [server.url("/a"), server.url("/private/b")]
    config = _config(robots=True)
    for _run in range(2):  # two runs: each its own registry, as each flow run has
        hosts = HostRegistry(5)
        robotscache.prime_from_cache(sqlite_url, hosts, urls)
        results = fetch_pages(urls, config, hosts=hosts)
        robotscache.save_to_cache(sqlite_url, hosts)
        assert [r.reason for r in results] == ["ok", "robots_disallowed"]
    assert server.hits.count("/robots.txt") == 1
    assert server.hits.count("/private/b") == 0
    with transaction(sqlite_url) as session:
        (cached,) = load_robots(session, [host_key(urls[0])], datetime.now(UTC)).values()
    assert replace(cached, fetched_at=NOW, expires_at=NOW).body == RULES


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (None, timedelta(hours=24)),
        ("max-age=3600", timedelta(hours=1)),
        ("public, max-age=600", timedelta(minutes=10)),
        ('max-age="120", must-revalidate', timedelta(minutes=2)),
        ("max-age=604800", timedelta(hours=24)),  # RFC 9309 §2.4: never more than 24 hours
        ("s-maxage=60", timedelta(hours=24)),  # for shared caches; ours is not one
        ("no-store", timedelta(0)),
        ("no-cache, max-age=3600", timedelta(0)),
        ("max-age=0", timedelta(0)),
    ],
)
def test_keep_for_follows_cache_control_capped_at_24_hours(
    header: str | None, kept: timedelta
) -> None:
    assert keep_for(header) == kept


def test_record_of_expires_with_the_answers_max_age_or_is_not_kept() -> None:
    short = replace(_outcome(200, RULES.encode(), "ok"), cache_control="max-age=600")
    missing = replace(_outcome(404, None, "http_404"), cache_control="max-age=60")
    kept = record_of("http://a.test", short, NOW)
    gone = record_of("http://a.test", missing, NOW)
    assert kept is not None and kept.expires_at == NOW + timedelta(minutes=10)
    assert gone is not None and gone.expires_at == NOW + timedelta(minutes=1)
    unkept = replace(_outcome(200, RULES.encode(), "ok"), cache_control="no-store")
    assert record_of("http://a.test", unkept, NOW) is None


def test_robots_cache_keeps_a_served_max_age(server: LoopbackServer, sqlite_url: str) -> None:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    headers = {"Content-Type": "text/plain", "Cache-Control": "public, max-age=900"}
    server.routes["/robots.txt"] = Route(RULES.encode(), 200, headers)
    server.routes["/a"] = Route(HTML)
    hosts = HostRegistry(5)
    fetch_pages([server.url("/a")], _config(robots=True), hosts=hosts)
    robotscache.save_to_cache(sqlite_url, hosts)
    with transaction(sqlite_url) as session:
        (cached,) = load_robots(session, [host_key(server.url("/a"))], datetime.now(UTC)).values()
    assert cached.expires_at - cached.fetched_at == timedelta(minutes=15)
