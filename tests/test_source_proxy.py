"""A source's ``proxy:``: its feed, robots.txt and page requests go through a real forward proxy on
loopback (started here; HTTPS through a CONNECT tunnel, TLS still verified), while the
private-network guard still judges every target URL (redirect hops included) and not the
proxy's own address, which the operator chose.

The target server listens on 127.0.0.2 and the proxy on 127.0.0.1; the network policy allows only
127.0.0.2/32, so a guard applied to the proxy connection would refuse it."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.engine import transaction
from storage.migrate import upgrade
from storage.models import Article, Fetch
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tests.loopback import LoopbackServer, Route, rss_feed
from tests.proxyserver import VIA, ForwardProxy
from tests.test_fetch_faults import TLSServer, tls_server  # noqa: F401 - the fixture

TARGET_ONLY = NetworkPolicy(networks=(ipaddress.ip_network("127.0.0.2/32"),))
WORDS = " ".join(f"word{i}" for i in range(120))
PAGE = f"<html><body><article><p>{WORDS}.</p><p>{WORDS}.</p></article></body></html>".encode()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    srv = ForwardProxy()
    yield srv
    srv.close()


@pytest.fixture
def target() -> Iterator[LoopbackServer]:
    srv = LoopbackServer(host="127.0.0.2")
    yield srv
    srv.close()


def _config(**fields: Any) -> FetchConfig:
    base: dict[str, Any] = {
        "user_agent": "newsflow-test",
        "delay": 0,
        "retries": 0,
        "network_policy": TARGET_ONLY,
        "robots": False,
    }
    return FetchConfig(**{**base, **fields})


def test_fetch_pages_proxy_carries_feed_robots_and_page_requests(
    proxy: ForwardProxy, target: LoopbackServer
) -> None:
    vias: list[str | None] = []

    def page(handler: Any) -> None:
        vias.append(handler.headers.get("Via"))
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(PAGE)))
        handler.end_headers()
        handler.wfile.write(PAGE)

    target.routes["/feed"] = Route(rss_feed("t", []), headers={"Content-Type": "application/xml"})
    target.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", headers={})
    target.routes["/a"] = page
    config = _config(proxy=proxy.url, robots=True)

    (feed,) = fetch_pages([target.url("/feed")], config, kind="feed")
    (article,) = fetch_pages([target.url("/a")], config)

    assert (feed.reason, article.reason) == ("ok", "ok")
    assert proxy.requested == [target.url("/feed"), target.url("/robots.txt"), target.url("/a")]
    assert vias == [VIA]  # the target was reached by the proxy, not directly


def test_fetch_pages_without_proxy_the_policy_refuses_the_proxy_address(
    proxy: ForwardProxy,
) -> None:
    (direct,) = fetch_pages([proxy.url + "/"], _config())

    assert direct.reason == "blocked_address"  # so the proxied test above proves the exemption


def test_fetch_pages_proxy_private_target_refused_before_the_proxy(
    proxy: ForwardProxy, target: LoopbackServer
) -> None:
    target.routes["/a"] = Route(PAGE)

    (outcome,) = fetch_pages(
        [target.url("/a")], _config(proxy=proxy.url, network_policy=NetworkPolicy())
    )

    assert outcome.reason == "blocked_address"
    assert proxy.requested == [] and target.hits == []


def test_fetch_pages_proxy_https_goes_through_a_tunnel_and_still_verifies_tls(
    proxy: ForwardProxy,
    tls_server: tuple[TLSServer, Path],  # noqa: F811 - the fixture imported above
) -> None:
    srv, _cert = tls_server
    port = srv.server_address[1]
    loopback = NetworkPolicy(networks=(ipaddress.ip_network("127.0.0.1/32"),))

    (outcome,) = fetch_pages(
        [f"https://127.0.0.1:{port}/a"], _config(proxy=proxy.url, network_policy=loopback)
    )

    assert outcome.reason == "tls_error"  # the self-signed certificate, seen through the tunnel
    assert proxy.requested == [f"127.0.0.1:{port}"]  # CONNECT host:port
    deadline = time.monotonic() + 2.0
    while srv.handshake_failures < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (srv.handshake_failures, srv.requests) == (1, [])


def test_fetch_pages_proxy_redirect_to_a_private_host_refused(
    proxy: ForwardProxy, target: LoopbackServer, server: LoopbackServer
) -> None:
    server.routes["/inside"] = Route(PAGE)
    target.routes["/jump"] = Route(b"", 302, {"Location": server.url("/inside")})

    (outcome,) = fetch_pages([target.url("/jump")], _config(proxy=proxy.url))

    assert outcome.reason == "blocked_address"
    assert proxy.requested == [target.url("/jump")] and server.hits == []


def test_ingest_source_proxy_and_filters_end_to_end(
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    proxy: ForwardProxy,
    target: LoopbackServer,
    tmp_path: Path,
) -> None:
    from flows import steps
    from flows.ingest import ingest_news

    upgrade(sqlite_url)
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.2/32")
    monkeypatch.setenv("NEWSFLOW_FETCH_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_EXTRACT_WORKERS", "0")
    fresh, old, promo = target.url("/news/fresh"), target.url("/news/old"), target.url("/news/ad")
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        f"<pubDate>{format_datetime(now - timedelta(days=age))}</pubDate></item>"
        for title, link, age in [
            ("Council agrees plan", fresh, 1),
            ("Council met long ago", old, 400),
            ("Sponsored: win a car", promo, 1),
        ]
    )
    feed = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    target.routes["/feed.xml"] = Route(feed, headers={"Content-Type": "application/rss+xml"})
    for link in (fresh, old, promo):
        target.routes[link.removeprefix(target.base)] = Route(PAGE)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: via-proxy\n"
        f"    feeds: [{target.url('/feed.xml')}]\n    interval: 600\n"
        f"    proxy: {proxy.url}\n"
        "    max_age_days: 365\n    exclude_title: ['(?i)^sponsored']\n",
        encoding="utf-8",
    )

    lines: list[str] = []  # what steps logs at INFO (Prefect's logging config owns its handlers)
    monkeypatch.setattr(steps.log, "info", lambda msg, *args: lines.append(msg % args))

    (report,) = ingest_news(sources_path=str(sources))

    assert report.status == "completed", report.errors
    assert report.counts.new == 1
    assert target.url("/feed.xml") in proxy.requested and fresh in proxy.requested
    assert old not in proxy.requested and promo not in proxy.requested
    with transaction(sqlite_url) as session:
        assert list(session.scalars(select(Article.url))) == [fresh]
        detail = session.scalars(select(Fetch.detail).where(Fetch.kind == "feed")).one()
    assert detail == "filtered out 2 item(s) (title_filtered: 1, too_old: 1)"
    assert "via-proxy: the source's filters left out title_filtered 1, too_old 1" in lines
