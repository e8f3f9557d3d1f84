"""robots.txt across runs: a batch's hosts take their rules from the ``robots_files`` cache before
fetching (so robots.txt is not fetched again while fresh), and the answers the batch fetched are
saved after it. The cache only saves requests: a failure to read or write it is logged, never the
batch's failure (the host's robots.txt is then fetched as if nothing were cached)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from storage.engine import transaction
from storage.robots import load_robots, save_robots
from tasks.fetch.hosts import HostRegistry, host_key
from tasks.fetch.robots import rules_of

log = logging.getLogger("newsflow")


def prime_from_cache(database_url: str, hosts: HostRegistry, urls: Iterable[str]) -> None:
    """Give the hosts of ``urls`` whose robots.txt this run has not read their cached rules."""
    unknown = hosts.unknown_robots(host_key(url) for url in urls)
    if not unknown:
        return
    try:
        with transaction(database_url) as session:
            cached = load_robots(session, unknown, datetime.now(UTC))
    except Exception:
        log.exception("could not read the robots.txt cache; fetching robots.txt instead")
        return
    hosts.prime_robots({key: rules_of(record) for key, record in cached.items()})


def save_to_cache(database_url: str, hosts: HostRegistry) -> None:
    """Save the robots.txt answers fetched since the last call."""
    fresh = hosts.take_fresh_robots()
    if not fresh:
        return
    try:
        with transaction(database_url) as session:
            save_robots(session, fresh, datetime.now(UTC))
    except Exception:
        log.exception("could not save %d robots.txt answer(s) to the cache", len(fresh))
