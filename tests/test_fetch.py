"""The HTTP layer (:mod:`tasks.fetch.fetch`) and the SSRF guard (:mod:`tasks.fetch.netguard`)
against real HTTP servers on 127.0.0.1. Nothing here touches the internet."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tasks.fetch.fetch import FetchConfig, fetch, make_session
from tasks.fetch.netguard import WEB_PORTS, BlockedURL, NetworkPolicy, check_url
from tasks.fetch.polite import fetch_pages
from tasks.records import FetchOutcome
from tests.loopback import LoopbackServer, Route

USER_AGENT = "newsflow-test/1 (+https://example.invalid)"
HTML = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"
LOOPBACK_ONLY = NetworkPolicy.parse("127.0.0.1/32")

Handler = Callable[[BaseHTTPRequestHandler], None]


def _config(**overrides: Any) -> FetchConfig:
    base = FetchConfig(
        user_agent=USER_AGENT,
        network_policy=NetworkPolicy(allow_all=True),
        delay=0,
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=5.0,
        retries=0,  # one request per fetch here; retries are tested in test_fetch_faults.py
        robots=False,
    )
    return replace(base, **overrides)


def _fetch(url: str, kind: str = "page", config: FetchConfig | None = None) -> FetchOutcome:
    config = config or _config()
    with make_session(config) as session:
        return fetch(session, url, kind, config)


def _timed_fetch(
    url: str, kind: str = "page", config: FetchConfig | None = None
) -> tuple[FetchOutcome, float]:
    start = time.monotonic()
    outcome = _fetch(url, kind, config)
    return outcome, time.monotonic() - start


@pytest.fixture
def server(server: LoopbackServer) -> Iterator[LoopbackServer]:
    """conftest's server, stopped without waiting out ``serve_forever``'s 0.5 s poll interval.

    Shutting down in a thread and connecting until it is done wakes the accept loop at once; the
    conftest fixture's own ``close()`` then finds the loop already stopped."""
    yield server
    port = int(server.base.rsplit(":", 1)[1])
    stopper = threading.Thread(target=server._httpd.shutdown, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 2.0
    while stopper.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            pass
        stopper.join(0.01)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at teardown so that handlers which stall or drip give up and their threads end."""
    event = threading.Event()
    yield event
    event.set()


def _headers(handler: BaseHTTPRequestHandler, headers: dict[str, str], status: int = 200) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.flush()


def _write(handler: BaseHTTPRequestHandler, data: bytes) -> bool:
    """Write ``data`` now; False once the client has gone away."""
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True
        return False
    return True


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# --- fetch: plain responses -------------------------------------------------------------------


def test_fetch_ok_html_page(server: LoopbackServer) -> None:
    seen: dict[str, str | None] = {}

    def page(handler: BaseHTTPRequestHandler) -> None:
        seen["user_agent"] = handler.headers.get("User-Agent")
        _headers(
            handler, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(HTML))}
        )
        _write(handler, HTML)

    server.routes["/article"] = page
    outcome = _fetch(server.url("/article"))

    assert outcome.ok, outcome
    assert outcome.reason == "ok"
    assert outcome.status_code == 200
    assert outcome.body == HTML
    assert outcome.bytes_read == len(HTML)
    assert outcome.final_url == server.url("/article")
    assert outcome.url == server.url("/article")
    assert outcome.kind == "page"
    assert outcome.content_type == "text/html; charset=utf-8"
    assert outcome.detail is None
    assert seen["user_agent"] == USER_AGENT


def test_fetch_http_404_is_reported_not_retried(server: LoopbackServer) -> None:
    outcome = _fetch(server.url("/missing"))

    assert outcome.reason == "http_404"
    assert outcome.status_code == 404
    assert outcome.body is None
    assert server.hits == ["/missing"]


def test_fetch_http_500_is_reported(server: LoopbackServer) -> None:
    server.routes["/boom"] = Route(b"oops", 500, {"Content-Type": "text/html"})
    outcome = _fetch(server.url("/boom"))

    assert outcome.reason == "http_500"
    assert outcome.status_code == 500
    assert server.hits == ["/boom"]


def test_fetch_page_with_non_html_type_is_not_html(server: LoopbackServer) -> None:
    server.routes["/doc.pdf"] = Route(b"%PDF-1.7\n", headers={"Content-Type": "application/pdf"})
    outcome = _fetch(server.url("/doc.pdf"), kind="page")

    assert outcome.reason == "not_html"
    assert outcome.body is None
    assert "application/pdf" in (outcome.detail or "")


def test_fetch_feed_with_non_html_type_is_fetched(server: LoopbackServer) -> None:
    server.routes["/doc.pdf"] = Route(b"%PDF-1.7\n", headers={"Content-Type": "application/pdf"})
    outcome = _fetch(server.url("/doc.pdf"), kind="feed")

    assert outcome.ok, outcome
    assert outcome.kind == "feed"
    assert outcome.body == b"%PDF-1.7\n"


# --- fetch: size caps --------------------------------------------------------------------------


def test_fetch_declared_length_over_cap_is_too_large_without_reading(
    server: LoopbackServer, stop: threading.Event
) -> None:
    # Headers promise 50 MB, then nothing comes: reading the body at all would end in a timeout.
    def huge(handler: BaseHTTPRequestHandler) -> None:
        _headers(handler, {"Content-Type": "text/html", "Content-Length": "50000000"})
        stop.wait(5)
        handler.close_connection = True

    server.routes["/huge"] = huge
    outcome, elapsed = _timed_fetch(server.url("/huge"), config=_config(max_page_bytes=1_000_000))

    assert outcome.reason == "too_large"
    assert "Content-Length" in (outcome.detail or "")
    assert elapsed < 0.9  # below read_timeout: the body was never waited for


def test_fetch_streamed_body_over_cap_is_too_large(server: LoopbackServer) -> None:
    def stream(handler: BaseHTTPRequestHandler) -> None:
        _headers(handler, {"Content-Type": "text/html", "Transfer-Encoding": "chunked"})
        piece = b"x" * 65_536
        for _ in range(64):  # 4 MB, no Content-Length
            if not _write(handler, _chunk(piece)):
                return
        _write(handler, b"0\r\n\r\n")

    server.routes["/stream"] = stream
    outcome = _fetch(server.url("/stream"), config=_config(max_page_bytes=1_000_000))

    assert outcome.reason == "too_large"
    assert outcome.body is None


def test_fetch_gzip_bomb_is_decompression_limit_quickly(server: LoopbackServer) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    zeros = bytes(1_000_000)
    bomb = b"".join(compressor.compress(zeros) for _ in range(50)) + compressor.flush()
    assert len(bomb) < 1_000_000  # small on the wire, 50 MB inflated

    server.routes["/bomb"] = Route(
        bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    outcome, elapsed = _timed_fetch(server.url("/bomb"), config=_config(max_page_bytes=1_000_000))

    assert outcome.reason == "decompression_limit"
    assert elapsed < 2.0


# --- fetch: time limits ------------------------------------------------------------------------


def _drip(stop: threading.Event, *, chunked: bool, count: int) -> Handler:
    """Headers at once, then one byte of body every 0.3 s, ``count`` bytes in all."""

    def drip(handler: BaseHTTPRequestHandler) -> None:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(count)}
        _headers(handler, {"Content-Type": "text/html", **framing})
        for _ in range(count):
            if stop.wait(0.3) or not _write(handler, _chunk(b"x") if chunked else b"x"):
                handler.close_connection = True
                return
        if chunked:
            _write(handler, b"0\r\n\r\n")

    return drip


def test_fetch_slow_chunked_drip_hits_total_deadline(
    server: LoopbackServer, stop: threading.Event
) -> None:
    server.routes["/drip"] = _drip(stop, chunked=True, count=100)  # 30 s if read to the end
    outcome, elapsed = _timed_fetch(server.url("/drip"), config=_config(total_timeout=1.0))

    assert outcome.reason == "timeout"
    assert elapsed < 2.0


def test_fetch_slow_drip_hits_total_deadline(server: LoopbackServer, stop: threading.Event) -> None:
    # 10 bytes at 0.3 s each: 3 s in all; a 1 s deadline must cut it off well before.
    server.routes["/drip"] = _drip(stop, chunked=False, count=10)
    outcome, elapsed = _timed_fetch(server.url("/drip"), config=_config(total_timeout=1.0))

    assert outcome.reason == "timeout"
    assert elapsed < 2.0


def test_fetch_no_response_headers_is_read_timeout(
    server: LoopbackServer, stop: threading.Event
) -> None:
    def silent(handler: BaseHTTPRequestHandler) -> None:
        stop.wait(5)
        handler.close_connection = True

    server.routes["/silent"] = silent
    outcome, elapsed = _timed_fetch(server.url("/silent"), config=_config(read_timeout=0.5))

    assert outcome.reason == "timeout"
    assert elapsed < 2.0


def test_fetch_body_stall_is_read_timeout(server: LoopbackServer, stop: threading.Event) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        _headers(handler, {"Content-Type": "text/html", "Content-Length": "1000"})
        _write(handler, b"<html>")
        stop.wait(5)
        handler.close_connection = True

    server.routes["/stall"] = stall
    outcome, elapsed = _timed_fetch(server.url("/stall"), config=_config(read_timeout=0.5))

    assert elapsed < 2.0
    assert outcome.reason == "timeout"


def test_fetch_connection_refused_is_connection_error() -> None:
    outcome, elapsed = _timed_fetch(
        "http://127.0.0.1:1/", config=_config(network_policy=LOOPBACK_ONLY)
    )

    assert outcome.reason == "conn_error"
    assert outcome.status_code is None
    assert outcome.body is None
    assert outcome.detail
    assert elapsed < 2.0


# --- fetch: redirects and the guard on every hop ------------------------------------------------


def test_fetch_follows_redirect_chain(server: LoopbackServer) -> None:
    server.routes["/a"] = Route(status=301, headers={"Location": "/b"})
    server.routes["/b"] = Route(status=302, headers={"Location": server.url("/final")})
    server.routes["/final"] = Route(HTML)
    outcome = _fetch(server.url("/a"), config=_config(network_policy=LOOPBACK_ONLY))

    assert outcome.ok, outcome
    assert outcome.url == server.url("/a")
    assert outcome.final_url == server.url("/final")
    assert outcome.body == HTML
    assert server.hits == ["/a", "/b", "/final"]


def test_fetch_follows_exactly_max_redirects(server: LoopbackServer) -> None:
    for hop in range(5):
        server.routes[f"/r{hop}"] = Route(status=307, headers={"Location": f"/r{hop + 1}"})
    server.routes["/r5"] = Route(HTML)
    outcome = _fetch(server.url("/r0"))

    assert outcome.ok, outcome
    assert outcome.final_url == server.url("/r5")


def test_fetch_more_than_max_redirects_is_too_many_redirects(server: LoopbackServer) -> None:
    for hop in range(6):
        server.routes[f"/r{hop}"] = Route(status=302, headers={"Location": f"/r{hop + 1}"})
    server.routes["/r6"] = Route(HTML)
    outcome = _fetch(server.url("/r0"))

    assert outcome.reason == "too_many_redirects"
    assert "/r6" not in server.hits


def test_fetch_redirect_loop_is_too_many_redirects(server: LoopbackServer) -> None:
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    outcome, elapsed = _timed_fetch(server.url("/loop"))

    assert outcome.reason == "too_many_redirects"
    assert server.hits == ["/loop"] * 6  # the first request and 5 redirects, then it stops
    assert elapsed < 2.0


def test_fetch_redirect_to_disallowed_address_is_blocked(server: LoopbackServer) -> None:
    # 127.0.0.2 is loopback too, but outside the policy; nothing listens there either, so a
    # connection attempt would show up as connection_error instead.
    port = server.base.rsplit(":", 1)[1]
    server.routes["/start"] = Route(
        status=302, headers={"Location": f"http://127.0.0.2:{port}/target"}
    )
    server.routes["/target"] = Route(HTML)
    outcome = _fetch(server.url("/start"), config=_config(network_policy=LOOPBACK_ONLY))

    assert outcome.reason == "blocked_address"
    assert "127.0.0.2" in (outcome.detail or "")
    assert server.hits == ["/start"]


def test_fetch_redirect_to_file_scheme_is_blocked(server: LoopbackServer) -> None:
    server.routes["/start"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    outcome = _fetch(server.url("/start"), config=_config(network_policy=LOOPBACK_ONLY))

    assert outcome.reason == "blocked_scheme"


def test_fetch_initial_url_outside_policy_is_blocked_before_connecting(
    server: LoopbackServer,
) -> None:
    server.routes["/page"] = Route(HTML)
    outcome = _fetch(server.url("/page"), config=_config(network_policy=NetworkPolicy()))

    assert outcome.reason == "blocked_address"
    assert server.hits == []


def test_fetch_dns_rebinding_never_reaches_private_address(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake resolver for one made-up name: public on the first lookup, loopback afterwards.
    port = int(server.base.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    lookups: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.invalid":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def connect(self: socket.socket, address: Any) -> None:
        # Whatever a fix does, this test never leaves the machine.
        if isinstance(address, tuple) and not str(address[0]).startswith("127."):
            raise ConnectionRefusedError(f"test refuses to connect to {address[0]}")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    server.routes["/secret"] = Route(HTML)
    outcome = _fetch(
        f"http://rebind.invalid:{port}/secret",
        config=_config(network_policy=NetworkPolicy(ports=WEB_PORTS | {port})),
    )

    assert server.hits == []
    assert outcome.reason == "blocked_address"


def test_fetch_ignores_environment_proxies(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server.routes["/page"] = Route(HTML)
    outcome = _fetch(server.url("/page"))

    assert outcome.ok, outcome
    assert outcome.body == HTML
    assert server.hits == ["/page"]


# --- fetch_pages ---------------------------------------------------------------------------------


def _localhost_url(server: LoopbackServer, path: str) -> str:
    """The same server under a second host name (``localhost`` is 127.0.0.1 too)."""
    return server.url(path).replace("127.0.0.1", "localhost", 1)


def _recorder(spans: dict[str, tuple[float, float]], hold: float = 0.0) -> Handler:
    """Serve a small page after ``hold`` seconds, recording when each request ran."""

    def handler(handler: BaseHTTPRequestHandler) -> None:
        start = time.monotonic()
        time.sleep(hold)
        body = handler.path.encode()
        _headers(handler, {"Content-Type": "text/html", "Content-Length": str(len(body))})
        spans[handler.path] = (start, time.monotonic())
        _write(handler, body)

    return handler


def test_fetch_pages_returns_results_in_input_order(server: LoopbackServer) -> None:
    spans: dict[str, tuple[float, float]] = {}
    for path in ("/1", "/2", "/3", "/4"):
        server.routes[path] = _recorder(spans, hold=0.05)
    urls = [
        server.url("/1"),
        _localhost_url(server, "/2"),
        server.url("/missing"),
        _localhost_url(server, "/3"),
        server.url("/4"),
    ]
    results = fetch_pages(urls, _config())

    assert [r.url for r in results] == urls
    assert [r.reason for r in results] == ["ok", "ok", "http_404", "ok", "ok"]
    assert [r.body for r in results] == [b"/1", b"/2", None, b"/3", b"/4"]


def test_fetch_pages_reports_each_outcome_when_done(server: LoopbackServer) -> None:
    server.routes["/a"] = Route(b"<html>a</html>")
    urls = [server.url("/a"), server.url("/missing"), _localhost_url(server, "/a")]
    seen: dict[int, FetchOutcome] = {}
    results = fetch_pages(urls, _config(), on_outcome=seen.__setitem__)

    assert sorted(seen) == [0, 1, 2]
    assert [seen[i] for i in range(3)] == results
    assert [seen[i].reason for i in range(3)] == ["ok", "http_404", "ok"]


def test_fetch_pages_empty_input_returns_empty_list() -> None:
    assert fetch_pages([], _config()) == []


def test_fetch_pages_same_host_is_sequential_with_delay(server: LoopbackServer) -> None:
    spans: dict[str, tuple[float, float]] = {}
    server.routes["/a"] = _recorder(spans)
    server.routes["/b"] = _recorder(spans)
    results = fetch_pages([server.url("/a"), server.url("/b")], _config(delay=0.3))

    assert [r.reason for r in results] == ["ok", "ok"]
    first, second = sorted(spans.values())
    assert second[0] - first[1] >= 0.3


def test_fetch_pages_different_hosts_overlap(server: LoopbackServer) -> None:
    spans: dict[str, tuple[float, float]] = {}
    server.routes["/a"] = _recorder(spans, hold=0.5)
    server.routes["/b"] = _recorder(spans, hold=0.5)
    urls = [server.url("/a"), _localhost_url(server, "/b")]
    results = fetch_pages(urls, _config(delay=0.3))

    assert [r.reason for r in results] == ["ok", "ok"]
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values())


# --- netguard ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/",
        "http://100.64.0.1/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::7f00:1]/",
        "http://224.0.0.1/",
        "https://127.0.0.1:8443/path?q=1",
    ],
)
def test_check_url_refuses_non_public_address(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url, NetworkPolicy())
    assert info.value.reason == "blocked_address"


@pytest.mark.parametrize(
    "url",
    ["http://93.184.216.34/", "https://93.184.216.34:8443/x", "http://[2606:4700::1111]/"],
)
def test_check_url_allows_public_literal(url: str) -> None:
    check_url(url, NetworkPolicy())


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/file", "file:///etc/passwd", "gopher://93.184.216.34/"]
)
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url, NetworkPolicy(allow_all=True))
    assert info.value.reason == "blocked_scheme"


@pytest.mark.parametrize(
    "url",
    ["http://user@93.184.216.34/", "http://user:secret@93.184.216.34/", "http://:@93.184.216.34/"],
)
def test_check_url_refuses_userinfo(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url, NetworkPolicy(allow_all=True))
    assert info.value.reason == "blocked_userinfo"


def test_check_url_policy_networks_allow_only_listed_addresses() -> None:
    check_url("http://127.0.0.1:8080/", LOOPBACK_ONLY)
    with pytest.raises(BlockedURL) as info:
        check_url("http://127.0.0.2:8080/", LOOPBACK_ONLY)
    assert info.value.reason == "blocked_address"


def test_check_url_allow_all_policy_allows_loopback() -> None:
    check_url("http://127.0.0.1/", NetworkPolicy(allow_all=True))
    check_url("http://[::1]/", NetworkPolicy(allow_all=True))


@pytest.mark.parametrize("text", ["true", "TRUE", "1", "yes", " on "])
def test_network_policy_parse_true_allows_all(text: str) -> None:
    assert NetworkPolicy.parse(text) == NetworkPolicy(allow_all=True)


@pytest.mark.parametrize("text", ["false", "0", "no", "off", ""])
def test_network_policy_parse_false_is_default(text: str) -> None:
    assert NetworkPolicy.parse(text) == NetworkPolicy()


def test_network_policy_parse_cidr_list() -> None:
    policy = NetworkPolicy.parse("127.0.0.0/8, 10.0.0.0/8")

    assert not policy.allow_all
    assert [str(net) for net in policy.networks] == ["127.0.0.0/8", "10.0.0.0/8"]


@pytest.mark.parametrize("text", ["maybe", "127.0.0.0/8,nonsense", "10.0.0.0/33"])
def test_network_policy_parse_garbage_raises(text: str) -> None:
    with pytest.raises(ValueError, match="expected true, false or a list of CIDRs"):
        NetworkPolicy.parse(text)
