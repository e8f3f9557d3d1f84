"""Checklist faults (``docs/faults.md`` A3: Network N1-N12, Size/compression S1-S5, SSRF R1-R7)
against real servers on loopback: :class:`tests.loopback.LoopbackServer` where ``http.server`` can
misbehave enough, :class:`tests.rawserver.RawServer` where it cannot (lying ``Content-Length``,
resets, bombs in redirect bodies, fifty ``Content-Encoding`` lines, dripped headers).

Rows already covered by ``tests/test_fetch.py`` are not repeated here. Every test runs on a
network that ends at the loopback interface (:class:`tests.rawserver.LoopbackOnlyNetwork`):
names resolve from a table, numeric hosts are parsed locally and connecting anywhere but
127.0.0.0/8 or ::1 is refused, so nothing here can send a packet off the machine.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import ipaddress
import itertools
import math
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
import urllib3.response

from tasks.discover.discover import FeedsRead, conditional_headers, read_feeds
from tasks.fetch.fetch import FetchConfig, fetch, make_session
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.netguard import BlockedURL, NetworkPolicy, check_url
from tasks.fetch.polite import fetch_pages
from tasks.fetch.robots import ROBOTS_MAX_BYTES
from tasks.records import FeedState, FetchOutcome
from tests.loopback import LoopbackServer, Route, rss_feed
from tests.rawserver import (
    LoopbackOnlyNetwork,
    RawRequest,
    RawServer,
    drip,
    head,
    lying_length,
    reset_mid_body,
    respond,
    send,
)

USER_AGENT = "newsflow-test/1 (+https://example.invalid)"
HTML = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"
LOOPBACK_ONLY = NetworkPolicy.parse("127.0.0.1/32")
REVALIDATE = timedelta(hours=24)

Handler = Callable[[BaseHTTPRequestHandler], None]


def _config(**overrides: Any) -> FetchConfig:
    """Short timeouts, tiny backoff, two retries, only 127.0.0.1 allowed, no robots, no delay."""
    base = FetchConfig(
        user_agent=USER_AGENT,
        network_policy=LOOPBACK_ONLY,
        delay=0,
        connect_timeout=0.5,
        read_timeout=0.5,
        total_timeout=3.0,
        retries=2,
        backoff=0.01,
        retry_after_max=5.0,
        robots=False,
        host_max_failures=5,
    )
    return replace(base, **overrides)


def _fetch(url: str, kind: str = "page", config: FetchConfig | None = None) -> FetchOutcome:
    config = config or _config()
    with make_session(config) as session:
        return fetch(session, url, kind, config)


def _timed(
    url: str, kind: str = "page", config: FetchConfig | None = None
) -> tuple[FetchOutcome, float]:
    start = time.monotonic()
    outcome = _fetch(url, kind, config)
    return outcome, time.monotonic() - start


def _timed_pages(
    urls: list[str], config: FetchConfig, **kwargs: Any
) -> tuple[list[FetchOutcome], float]:
    start = time.monotonic()
    results = fetch_pages(urls, config, **kwargs)
    return results, time.monotonic() - start


def _alias(server: LoopbackServer, path: str) -> str:
    """The same server under a second host name (the test resolver maps localhost to 127.0.0.1)."""
    return server.url(path).replace("127.0.0.1", "localhost", 1)


def _port(server: LoopbackServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


ROOT = Path(__file__).resolve().parent.parent
# every reason code asserted in this file and in test_feed_faults.py (http_<status> stands for
# the http_* family)
REASONS_ASSERTED = {
    "ok",
    "not_modified",
    "http_<status>",
    "timeout",
    "conn_error",
    "dns_error",
    "tls_error",
    "decompression_limit",
    "decoding_error",
    "not_html",
    "blocked_address",
    "blocked_scheme",
    "blocked_userinfo",
    "invalid_url",
    "robots_disallowed",
    "host_skipped",
    "too_large",
    "feed_unparseable",
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> LoopbackOnlyNetwork:
    return LoopbackOnlyNetwork().install(monkeypatch)


@pytest.fixture
def server(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """conftest's server, stopped without waiting out ``serve_forever``'s 0.5 s poll interval,
    and quiet about clients that hang up on it (the fetcher closes connections whose bodies it
    does not want: the kernel answers the server with a reset)."""
    report = server._httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    monkeypatch.setattr(server._httpd, "handle_error", handle_error)
    yield server
    stopper = threading.Thread(target=server._httpd.shutdown, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 2.0
    while stopper.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", _port(server))):
            pass
        stopper.join(0.01)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at teardown so that handlers which stall give up and their threads end."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def raw() -> Iterator[RawServer]:
    srv = RawServer()
    yield srv
    srv.close()


@pytest.fixture
def outside() -> Iterator[RawServer]:
    """A server on 127.0.0.2: loopback, but outside ``LOOPBACK_ONLY``. A refusal is proven by
    this server never accepting a connection."""
    srv = RawServer("127.0.0.2")
    srv.routes["/target"] = respond(200, [("Content-Type", "text/html")], HTML)
    yield srv
    srv.close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``time.sleep`` calls made by the test's own thread (the backoff of a direct fetch)."""
    real_sleep = time.sleep
    me = threading.get_ident()
    recorded: list[float] = []

    def sleep(seconds: float) -> None:
        if threading.get_ident() == me:
            recorded.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return recorded


@dataclass
class DecodedBytes:
    total: int = 0


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> DecodedBytes:
    """Count the bytes urllib3's gzip and deflate decoders produce (i.e. what was inflated)."""
    counter = DecodedBytes()
    for cls in (urllib3.response.GzipDecoder, urllib3.response.DeflateDecoder):
        real = cls.decompress

        def decompress(self: Any, data: bytes, max_length: int = -1, _real: Any = real) -> bytes:
            out: bytes = _real(self, data, max_length)
            counter.total += len(out)
            return out

        monkeypatch.setattr(cls, "decompress", decompress)
    return counter


# --- LoopbackServer handlers ---------------------------------------------------------------------


def _reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for key, value in (headers if headers is not None else {"Content-Type": "text/html"}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(body)


def _sequence(*steps: tuple[int, dict[str, str]]) -> Handler:
    """The n-th request gets ``steps[n]`` (status, extra headers); later ones get 200 HTML."""
    count = [0]

    def handler(handler: BaseHTTPRequestHandler) -> None:
        index = count[0]
        count[0] += 1
        if index < len(steps):
            status, extra = steps[index]
            _reply(handler, status, b"try later", {"Content-Type": "text/html", **extra})
        else:
            _reply(handler, 200, HTML)

    return handler


def _recorder(spans: list[tuple[str, float, float]], hold: float = 0.0) -> Handler:
    """Serve a small page after ``hold`` seconds, recording (path, start, end) of each request."""

    def handler(handler: BaseHTTPRequestHandler) -> None:
        start = time.monotonic()
        time.sleep(hold)
        spans.append((handler.path, start, time.monotonic()))
        _reply(handler, 200, handler.path.encode())

    return handler


def _assert_spaced(spans: list[tuple[str, float, float]], delay: float) -> None:
    """No two requests overlap, and each starts at least ``delay`` after the previous ended."""
    ordered = sorted(spans, key=lambda span: span[1])
    for (_, _, prev_end), (path, start, _) in itertools.pairwise(ordered):
        assert start - prev_end >= delay, f"{path} started {start - prev_end:.3f}s after the last"


# === N1: DNS failure, refused, reset mid-body: retried with backoff, then dns/conn_error =========


def test_n1_connection_refused_is_retried_with_backoff_then_conn_error(
    network: LoopbackOnlyNetwork, sleeps: list[float]
) -> None:
    port = _closed_port()
    outcome = _fetch(f"http://127.0.0.1:{port}/a", config=_config(retries=2, backoff=0.05))

    assert outcome.reason == "conn_error"
    assert outcome.attempts == 3
    assert network.connects.count(("127.0.0.1", port)) == 3
    # 0.05 then 0.1 s, each plus up to 50 % jitter
    assert len(sleeps) == 2
    assert 0.05 <= sleeps[0] <= 0.075
    assert 0.1 <= sleeps[1] <= 0.15


def test_n1_connection_refused_detail_names_no_internal_class(
    network: LoopbackOnlyNetwork, sleeps: list[float]
) -> None:
    outcome = _fetch(f"http://127.0.0.1:{_closed_port()}/a", config=_config(retries=0))

    assert outcome.reason == "conn_error"
    assert outcome.detail == (
        "NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused"
    )


@pytest.mark.parametrize("fault", ["lying_content_length", "reset_mid_body"])
def test_n1_truncated_body_is_retried_then_conn_error_never_stored(
    raw: RawServer, server: LoopbackServer, fault: str
) -> None:
    partial = b"<html><body>" + b"x" * 500
    maker = lying_length if fault == "lying_content_length" else reset_mid_body
    raw.routes["/article"] = maker(10_000, partial)
    server.routes["/ok"] = Route(HTML)
    bad, good = fetch_pages([raw.url("/article"), server.url("/ok")], _config(retries=2))

    assert bad.reason == "conn_error"
    assert bad.attempts == 3
    assert raw.count("/article") == 3
    assert bad.body is None
    assert bad.bytes_read == 0
    assert good.ok and good.body == HTML  # the rest of the batch completed


def test_n1_unknown_host_is_retried_then_dns_error(
    network: LoopbackOnlyNetwork, server: LoopbackServer
) -> None:
    server.routes["/ok"] = Route(HTML)
    bad, good = fetch_pages(["http://nxdomain.invalid/a", server.url("/ok")], _config(retries=2))

    assert bad.reason == "dns_error"
    assert bad.attempts == 3
    assert network.lookups.count("nxdomain.invalid") == 3
    assert good.ok


@pytest.mark.parametrize("status", [503, 500, 502, 504, 408, 429])
def test_n1_transient_status_twice_then_200_is_ok_after_three_attempts(
    server: LoopbackServer, status: int
) -> None:
    server.routes["/flaky"] = _sequence((status, {}), (status, {}))
    outcome = _fetch(server.url("/flaky"), config=_config(retries=2))

    assert outcome.reason == "ok"
    assert outcome.attempts == 3
    assert outcome.body == HTML
    assert server.hits == ["/flaky"] * 3


def test_n1_persistent_503_gives_up_after_retries(server: LoopbackServer) -> None:
    server.routes["/down"] = Route(b"down", 503)
    outcome = _fetch(server.url("/down"), config=_config(retries=2))

    assert outcome.reason == "http_503"
    assert outcome.attempts == 3
    assert server.hits == ["/down"] * 3


# === N2: black-holed connect =====================================================================


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose listen backlog is full: new connections are never answered (SYNs dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    for _ in range(16):
        filler = socket.socket()
        filler.settimeout(0.2)
        try:
            filler.connect(("127.0.0.1", port))
        except TimeoutError:
            filler.close()
            break
        fillers.append(filler)
    else:  # pragma: no cover - a kernel that queues without limit
        listener.close()
        pytest.skip("could not fill the listen backlog on this kernel")
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def test_n2_black_holed_connect_fails_within_connect_timeout(
    black_hole: int, server: LoopbackServer
) -> None:
    server.routes["/ok"] = Route(HTML)
    (bad, good), elapsed = _timed_pages(
        [f"http://127.0.0.1:{black_hole}/a", server.url("/ok")],
        _config(connect_timeout=0.3, retries=0),
    )

    assert bad.reason == "timeout"
    assert "connect" in (bad.detail or "").lower()
    assert elapsed < 1.5
    assert good.ok


# === N3: slow-loris (the body drip is in test_fetch.py; here the headers drip) ===================


def test_n3_headers_dripped_byte_by_byte_hit_total_deadline(raw: RawServer) -> None:
    response = head(200, [("Content-Type", "text/html"), ("Content-Length", "2")]) + b"ok"
    raw.routes["/slow"] = drip(response, 0.03, raw.stop)  # ~80 bytes: 2.4 s for the headers
    outcome, elapsed = _timed(raw.url("/slow"), config=_config(total_timeout=0.5, retries=0))

    assert outcome.reason == "timeout"
    assert elapsed < 1.2


# === N4: Retry-After =============================================================================


def test_n4_retry_after_seconds_within_cap_is_waited(server: LoopbackServer) -> None:
    server.routes["/busy"] = _sequence((503, {"Retry-After": "1"}))
    outcome, elapsed = _timed(server.url("/busy"), config=_config(retries=1, retry_after_max=5))

    assert outcome.reason == "ok"
    assert outcome.attempts == 2
    assert not outcome.defer_host
    assert elapsed >= 1.0
    assert server.hits == ["/busy", "/busy"]


def test_n4_retry_after_http_date_within_cap_is_waited(server: LoopbackServer) -> None:
    count = [0]

    def busy(handler: BaseHTTPRequestHandler) -> None:
        count[0] += 1
        if count[0] > 1:
            _reply(handler, 200, HTML)
            return
        # two whole seconds ahead of the current second: between 1 and 2 s from now
        when = datetime.fromtimestamp(math.floor(time.time()) + 2, UTC)
        _reply(handler, 429, b"slow down", {"Retry-After": format_datetime(when, usegmt=True)})

    server.routes["/busy"] = busy
    outcome, elapsed = _timed(server.url("/busy"), config=_config(retries=1, retry_after_max=5))

    assert outcome.reason == "ok"
    assert outcome.attempts == 2
    assert elapsed >= 0.95


@pytest.mark.parametrize("value", ["999999999", "Fri, 31 Dec 2100 23:59:59 GMT"])
def test_n4_huge_retry_after_defers_the_host_without_sleeping(
    server: LoopbackServer, value: str
) -> None:
    server.routes["/busy"] = Route(
        b"busy", 503, {"Content-Type": "text/html", "Retry-After": value}
    )
    server.routes["/next"] = Route(HTML)
    server.routes["/other"] = Route(HTML)
    hosts = HostRegistry(5)
    urls = [server.url("/busy"), server.url("/next"), _alias(server, "/other")]
    (busy, nxt, other), elapsed = _timed_pages(urls, _config(retries=2), hosts=hosts)

    assert busy.reason == "http_503"
    assert busy.defer_host
    assert busy.attempts == 1
    assert "Retry-After" in (busy.detail or "")
    assert nxt.reason == "host_skipped"
    assert "Retry-After" in (nxt.detail or "")
    assert other.ok  # another host is unaffected
    assert elapsed < 2.0
    # a later batch of the same run: the host stays deferred, still without a request
    (later,) = fetch_pages([server.url("/next")], _config(), hosts=hosts)
    assert later.reason == "host_skipped"
    assert server.hits.count("/busy") == 1
    assert "/next" not in server.hits


def test_n4_huge_retry_after_on_the_last_attempt_still_defers_the_host(
    server: LoopbackServer,
) -> None:
    server.routes["/busy"] = _sequence((503, {}), (503, {"Retry-After": "999999999"}))
    server.routes["/next"] = Route(HTML)
    busy, nxt = fetch_pages([server.url("/busy"), server.url("/next")], _config(retries=1))

    assert busy.reason == "http_503"
    assert busy.attempts == 2
    assert busy.defer_host
    assert nxt.reason == "host_skipped"
    assert "/next" not in server.hits


@pytest.mark.parametrize("value", ["soon", "-5", "1.5e9", "Mon, 99 Foo 2024 25:61:00 GMT", ""])
def test_n4_garbage_retry_after_is_ignored(
    server: LoopbackServer, sleeps: list[float], value: str
) -> None:
    server.routes["/busy"] = _sequence((503, {"Retry-After": value}))
    outcome = _fetch(server.url("/busy"), config=_config(retries=1, backoff=0.01))

    assert outcome.reason == "ok"
    assert outcome.attempts == 2
    assert not outcome.defer_host
    assert len(sleeps) == 1
    assert 0.01 <= sleeps[0] <= 0.015  # the normal backoff


# === N5: persistent 5xx: circuit breaker per host ================================================


def test_n5_persistent_5xx_trips_the_breaker_other_host_unaffected(server: LoopbackServer) -> None:
    for index in range(6):
        server.routes[f"/e{index}"] = Route(b"error", 500)
    for index in range(3):
        server.routes[f"/ok{index}"] = Route(HTML)
    hosts = HostRegistry(3)
    # Generous timeouts: on a loaded machine a 0.5 s read timeout turns a 500 into a timeout.
    config = _config(retries=1, host_max_failures=3, connect_timeout=5.0, read_timeout=5.0)
    failing = [server.url(f"/e{index}") for index in range(6)]
    healthy = [_alias(server, f"/ok{index}") for index in range(3)]
    results = fetch_pages(failing + healthy, config, hosts=hosts)

    assert [r.reason for r in results[:3]] == ["http_500"] * 3
    assert [r.attempts for r in results[:3]] == [2, 2, 2]
    assert [r.reason for r in results[3:6]] == ["host_skipped"] * 3
    assert all("consecutive failures" in (r.detail or "") for r in results[3:6])
    assert [r.reason for r in results[6:]] == ["ok"] * 3
    assert [server.hits.count(f"/e{index}") for index in range(6)] == [2, 2, 2, 0, 0, 0]
    # the breaker holds for the rest of the run (the next batch)
    (later,) = fetch_pages([server.url("/ok0")], config, hosts=hosts)
    assert later.reason == "host_skipped"
    assert server.hits.count("/ok0") == 1  # only the alias host's request


# === N6: 404/410: never retried; a 404 feed is recorded and not remembered =======================


@pytest.mark.parametrize("status", [404, 410])
def test_n6_gone_page_is_never_retried(server: LoopbackServer, status: int) -> None:
    server.routes["/gone"] = Route(b"gone", status)
    server.routes["/ok"] = Route(HTML)
    gone, good = fetch_pages([server.url("/gone"), server.url("/ok")], _config(retries=2))

    assert gone.reason == f"http_{status}"
    assert gone.attempts == 1
    assert server.hits.count("/gone") == 1
    assert good.ok


def test_n6_feed_404_is_an_error_not_retried_other_feed_read(server: LoopbackServer) -> None:
    good_url = server.url("/good.xml")
    server.routes["/good.xml"] = Route(
        rss_feed("good", ["http://news.example.test/a"]), headers={"Content-Type": "text/xml"}
    )
    gone_url = server.url("/gone.xml")
    fetched = fetch_pages([gone_url, good_url], _config(retries=2), kind="feed")
    read = read_feeds(fetched, 50, {}, {})

    assert [o.reason for o in read.outcomes] == ["http_404", "ok"]
    assert read.errors == [f"{gone_url}: http_404"]
    assert [s.url for s in read.states] == [good_url]  # a broken feed is not remembered
    assert [i.url for i in read.items] == ["http://news.example.test/a"]
    assert server.hits.count("/gone.xml") == 1


# === N8: TLS: self-signed certificate ============================================================


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TLSServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 with our certificate; counts connections, failed handshakes and the
    requests that got through."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.accepted = 0
        self.handshake_failures = 0
        self.requests: list[str] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                _reply(self, 200, HTML)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:  # no getfqdn(): no name lookups at all
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        self.accepted += 1
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(2.0)
            request.do_handshake()
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            return
        super().finish_request(request, client_address)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[TLSServer, Path]]:
    cert, key = _self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv = TLSServer(context)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield srv, cert
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize(
    "policy", [LOOPBACK_ONLY, NetworkPolicy(allow_all=True)], ids=["guarded", "allow-all"]
)
def test_n8_self_signed_certificate_is_tls_error_never_retried_unverified(
    tls_server: tuple[TLSServer, Path], server: LoopbackServer, policy: NetworkPolicy
) -> None:
    srv, cert = tls_server
    url = f"https://127.0.0.1:{srv.server_address[1]}/article"
    server.routes["/ok"] = Route(HTML)
    bad, good = fetch_pages([url, server.url("/ok")], _config(retries=2, network_policy=policy))

    assert bad.reason == "tls_error"
    assert bad.attempts == 1
    assert bad.body is None
    assert good.ok
    deadline = time.monotonic() + 2.0
    while srv.handshake_failures < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.accepted == 1  # one handshake, no second try with verification off
    assert srv.handshake_failures == 1
    assert srv.requests == []  # no request ever completed
    # control: a client that trusts this certificate gets the page, so the server was fine
    client = ssl.create_default_context(cafile=str(cert))
    with (
        socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=2) as sock,
        client.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /control HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        assert tls.recv(12).startswith(b"HTTP/1.0 200")
    assert srv.requests == ["/control"]


# === N9: non-HTML content type: skipped after the headers, body not downloaded ===================


@pytest.mark.parametrize(
    "content_type", ["video/mp4", "application/octet-stream", "image/png", None]
)
def test_n9_non_html_page_skipped_after_headers_without_reading_body(
    raw: RawServer, content_type: str | None
) -> None:
    headers = [("Content-Length", "50000000")]
    if content_type:
        headers.append(("Content-Type", content_type))

    def huge(conn: socket.socket, _request: RawRequest) -> None:
        send(conn, head(200, headers) + HTML)  # an HTML body under a non-HTML type, then stall
        raw.stop.wait(5)

    raw.routes["/file"] = huge
    outcome, elapsed = _timed(raw.url("/file"), config=_config(read_timeout=1.0, retries=2))

    assert outcome.reason == "not_html"
    assert outcome.body is None
    assert outcome.attempts == 1
    assert elapsed < 0.9  # below read_timeout: the body was never waited for


# === N10: robots.txt =============================================================================


def _text(body: bytes, status: int = 200) -> Route:
    return Route(body, status, {"Content-Type": "text/plain"})


@pytest.mark.parametrize(
    "robots",
    [
        b"User-agent: *\nDisallow: /private/\n",
        b"User-agent: newsflow\nDisallow: /private/\n\nUser-agent: *\nDisallow:\n",
    ],
    ids=["any-agent", "our-agent"],
)
def test_n10_robots_disallow_skips_page_without_requesting_it(
    server: LoopbackServer, robots: bytes
) -> None:
    server.routes["/robots.txt"] = _text(robots)
    server.routes["/private/a"] = Route(HTML)
    server.routes["/public"] = Route(HTML)
    side: list[FetchOutcome] = []
    results = fetch_pages(
        [server.url("/private/a"), server.url("/public")], _config(robots=True), side=side
    )

    assert [r.reason for r in results] == ["robots_disallowed", "ok"]
    assert "/private/a" not in server.hits
    assert server.hits.count("/robots.txt") == 1
    assert [(o.kind, o.reason) for o in side] == [("robots", "ok")]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_n10_robots_4xx_allows_everything(server: LoopbackServer, status: int) -> None:
    server.routes["/robots.txt"] = _text(b"User-agent: *\nDisallow: /\n", status)
    server.routes["/a"] = Route(HTML)
    side: list[FetchOutcome] = []
    (page,) = fetch_pages([server.url("/a")], _config(robots=True), side=side)

    assert page.ok
    assert [o.reason for o in side] == [f"http_{status}"]
    assert side[0].attempts == 1  # 4xx is an answer, not retried


def test_n10_robots_5xx_defers_the_host_robots_fetched_once(server: LoopbackServer) -> None:
    asked: list[str] = []

    def robots(handler: BaseHTTPRequestHandler) -> None:
        host = handler.headers.get("Host", "")
        asked.append(host.split(":")[0])
        if host.startswith("localhost"):
            _reply(handler, 404, b"none", {"Content-Type": "text/plain"})
        else:
            _reply(handler, 503, b"later", {"Content-Type": "text/plain"})

    server.routes["/robots.txt"] = robots
    for path in ("/a", "/b", "/c"):
        server.routes[path] = Route(HTML)
    side: list[FetchOutcome] = []
    urls = [server.url("/a"), server.url("/b"), server.url("/c"), _alias(server, "/a")]
    results = fetch_pages(urls, _config(robots=True, retries=1), side=side)

    assert [r.reason for r in results[:3]] == ["host_skipped"] * 3
    assert all("robots" in (r.detail or "") for r in results[:3])
    assert results[3].ok  # the other host is unaffected
    failed = [o for o in side if o.url.startswith(server.base)]
    assert [(o.kind, o.reason, o.attempts) for o in failed] == [("robots", "http_503", 2)]
    assert asked.count("127.0.0.1") == 2  # one robots fetch (two attempts) for three pages
    assert server.hits.count("/a") == 1  # only the other host's page was requested
    assert "/b" not in server.hits
    assert "/c" not in server.hits


def test_n10_robots_timeout_defers_the_host(server: LoopbackServer, stop: threading.Event) -> None:
    def robots(handler: BaseHTTPRequestHandler) -> None:
        stop.wait(5)
        handler.close_connection = True

    server.routes["/robots.txt"] = robots
    server.routes["/a"] = Route(HTML)
    server.routes["/b"] = Route(HTML)
    side: list[FetchOutcome] = []
    results, elapsed = _timed_pages(
        [server.url("/a"), server.url("/b")],
        _config(robots=True, read_timeout=0.3, retries=0),
        side=side,
    )

    assert [r.reason for r in results] == ["host_skipped", "host_skipped"]
    assert all("robots" in (r.detail or "") for r in results)
    assert [o.reason for o in side] == ["timeout"]
    assert server.hits == ["/robots.txt"]
    assert elapsed < 2.0


def test_n10_ten_megabyte_robots_first_500_kib_parsed_and_obeyed(server: LoopbackServer) -> None:
    rules = b"User-agent: *\nDisallow: /private/\n"
    filler = b"#" + b"x" * 1022 + b"\n"  # 1 KiB comment lines
    late = b"User-agent: *\nDisallow: /late/\n"
    size = 10 * 1024 * 1024

    def robots(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(rules) + size + len(late)))
        handler.end_headers()
        block = filler * 64
        try:
            handler.wfile.write(rules)
            for _ in range(size // len(block)):
                handler.wfile.write(block)
            handler.wfile.write(late)
        except OSError:  # the client stopped reading at its cap
            handler.close_connection = True

    server.routes["/robots.txt"] = robots
    for path in ("/private/a", "/late/a", "/public"):
        server.routes[path] = Route(HTML)
    side: list[FetchOutcome] = []
    urls = [server.url("/private/a"), server.url("/late/a"), server.url("/public")]
    results, elapsed = _timed_pages(urls, _config(robots=True), side=side)

    assert [r.reason for r in results] == ["robots_disallowed", "ok", "ok"]
    assert [o.reason for o in side] == ["ok"]
    assert side[0].bytes_read <= ROBOTS_MAX_BYTES
    assert "/private/a" not in server.hits
    assert elapsed < 3.0


def test_n10_crawl_delay_above_cap_skips_the_host(server: LoopbackServer) -> None:
    def robots(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Host", "").startswith("localhost"):
            _reply(handler, 404, b"none", {"Content-Type": "text/plain"})
        else:
            body = b"User-agent: *\nCrawl-delay: 3600\n"
            _reply(handler, 200, body, {"Content-Type": "text/plain"})

    server.routes["/robots.txt"] = robots
    for path in ("/a", "/b", "/other"):
        server.routes[path] = Route(HTML)
    urls = [server.url("/a"), server.url("/b"), _alias(server, "/other")]
    results, elapsed = _timed_pages(urls, _config(robots=True, max_crawl_delay=60))

    assert [r.reason for r in results] == ["host_skipped", "host_skipped", "ok"]
    assert all("Crawl-delay" in (r.detail or "") for r in results[:2])
    assert "/a" not in server.hits
    assert "/b" not in server.hits
    assert elapsed < 2.0


def test_n10_crawl_delay_is_honoured(server: LoopbackServer) -> None:
    spans: list[tuple[str, float, float]] = []

    def robots(handler: BaseHTTPRequestHandler) -> None:
        start = time.monotonic()
        spans.append(("/robots.txt", start, start))
        _reply(handler, 200, b"User-agent: *\nCrawl-delay: 1\n", {"Content-Type": "text/plain"})

    server.routes["/robots.txt"] = robots
    server.routes["/a"] = _recorder(spans)
    server.routes["/b"] = _recorder(spans)
    results = fetch_pages([server.url("/a"), server.url("/b")], _config(robots=True, delay=0))

    assert [r.reason for r in results] == ["ok", "ok"]
    assert [span[0] for span in sorted(spans, key=lambda s: s[1])] == ["/robots.txt", "/a", "/b"]
    _assert_spaced(spans, 1.0)


def test_n10_robots_read_once_per_host_per_run_across_batches(server: LoopbackServer) -> None:
    server.routes["/robots.txt"] = _text(b"User-agent: *\nDisallow: /private/\n")
    for path in ("/a", "/b", "/private/c"):
        server.routes[path] = Route(HTML)
    hosts = HostRegistry(5)
    first_side: list[FetchOutcome] = []
    second_side: list[FetchOutcome] = []
    first = fetch_pages([server.url("/a")], _config(robots=True), hosts=hosts, side=first_side)
    second = fetch_pages(
        [server.url("/b"), server.url("/private/c")],
        _config(robots=True),
        hosts=hosts,
        side=second_side,
    )

    assert [r.reason for r in first + second] == ["ok", "ok", "robots_disallowed"]
    assert server.hits.count("/robots.txt") == 1
    assert len(first_side) == 1
    assert second_side == []


def test_n10_feeds_are_not_subject_to_robots(server: LoopbackServer) -> None:
    server.routes["/robots.txt"] = _text(b"User-agent: *\nDisallow: /\n")
    server.routes["/feed.xml"] = Route(
        rss_feed("f", ["http://news.example.test/a"]), headers={"Content-Type": "text/xml"}
    )
    (feed,) = fetch_pages([server.url("/feed.xml")], _config(robots=True), kind="feed")

    assert feed.ok
    assert server.hits == ["/feed.xml"]


# === N11: conditional GET, end to end at the task level ==========================================


FEED_LINKS = [f"http://news.example.test/{n}" for n in range(3)]
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


@dataclass
class FeedOrigin:
    """A feed server: ``body`` with fixed validators; answers 304 to matching validators when
    ``honours`` is set. ``seen`` records the conditional headers of each request."""

    body: bytes
    honours: bool = True
    etag: str | None = ETAG
    seen: list[dict[str, str]] | None = None

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        sent = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() in ("if-none-match", "if-modified-since")
        }
        if self.seen is not None:
            self.seen.append(sent)
        validators = {"Last-Modified": LAST_MODIFIED}
        if self.etag:
            validators["ETag"] = self.etag
        matches = (self.etag and handler.headers.get("If-None-Match") == self.etag) or (
            handler.headers.get("If-Modified-Since") == LAST_MODIFIED
        )
        if self.honours and matches:
            _reply(handler, 304, b"", validators)
            return
        _reply(handler, 200, self.body, {"Content-Type": "application/rss+xml", **validators})


def _read_run(
    url: str, states: dict[str, FeedState], now: datetime
) -> tuple[dict[str, str], FeedsRead, dict[str, FeedState]]:
    """One run of discovery for one feed, as ``flows.steps.discover_source`` does it."""
    sent = {url: conditional_headers(states.get(url), now, REVALIDATE)}
    fetched = fetch_pages([url], _config(), kind="feed", headers=sent)
    read = read_feeds(fetched, 50, states, sent, now)
    return sent[url], read, {**states, **{s.url: s for s in read.states}}


def test_n11_conditional_get_304_means_zero_work(server: LoopbackServer) -> None:
    origin = FeedOrigin(rss_feed("f", FEED_LINKS), seen=[])
    server.routes["/feed.xml"] = origin
    url = server.url("/feed.xml")
    now = datetime(2026, 1, 1, tzinfo=UTC)

    sent1, first, states = _read_run(url, {}, now)
    assert sent1 == {}
    assert [i.url for i in first.items] == FEED_LINKS
    assert first.unchanged == 0

    sent2, second, states = _read_run(url, states, now + timedelta(hours=1))
    assert sent2 == {"If-None-Match": ETAG, "If-Modified-Since": LAST_MODIFIED}
    assert origin.seen is not None and origin.seen[1] == sent2  # the server got them
    assert [o.reason for o in second.outcomes] == ["not_modified"]
    assert second.items == []
    assert second.unchanged == 1
    assert second.feeds_ok == 1
    assert second.errors == []
    assert states[url].last_not_modified_at == now + timedelta(hours=1)


def test_n11_server_ignoring_validators_same_body_is_unchanged(server: LoopbackServer) -> None:
    server.routes["/feed.xml"] = FeedOrigin(rss_feed("f", FEED_LINKS), honours=False)
    url = server.url("/feed.xml")
    now = datetime(2026, 1, 1, tzinfo=UTC)

    _sent, first, states = _read_run(url, {}, now)
    assert len(first.items) == 3
    sent2, second, _states = _read_run(url, states, now + timedelta(hours=1))

    assert sent2  # conditional headers were sent, and ignored
    assert [o.reason for o in second.outcomes] == ["ok"]
    assert second.outcomes[0].detail == "unchanged since the last run"
    assert second.items == []
    assert second.unchanged == 1


def test_n11_contradicted_304_stops_conditional_requests(server: LoopbackServer) -> None:
    origin = FeedOrigin(rss_feed("f", FEED_LINKS), etag=None)
    server.routes["/feed.xml"] = origin
    url = server.url("/feed.xml")
    start = datetime(2026, 1, 1, tzinfo=UTC)

    _sent, _first, states = _read_run(url, {}, start)
    sent2, second, states = _read_run(url, states, start + timedelta(hours=1))
    assert sent2 == {"If-Modified-Since": LAST_MODIFIED}
    assert second.unchanged == 1  # 304
    # the feed changed long ago, but the server still says Last-Modified 2025-01-01: the 304 lied
    origin.body = rss_feed("f", [*FEED_LINKS, "http://news.example.test/new"])
    later = start + REVALIDATE + timedelta(hours=1)  # time for the periodic unconditional fetch
    sent3, third, states = _read_run(url, states, later)

    assert sent3 == {}
    assert "http://news.example.test/new" in [i.url for i in third.items]
    assert states[url].conditional_ok is False
    assert conditional_headers(states[url], later + timedelta(hours=1), REVALIDATE) == {}


# === N12: politeness across batches sharing one registry =========================================


def test_n12_batches_sharing_a_registry_are_spaced_and_never_concurrent(
    server: LoopbackServer,
) -> None:
    spans: list[tuple[str, float, float]] = []
    for path in ("/a1", "/a2", "/b1", "/b2", "/c1"):
        server.routes[path] = _recorder(spans, hold=0.05)
    hosts = HostRegistry(5)
    config = _config(delay=0.25)
    results: dict[str, list[FetchOutcome]] = {}

    def batch(name: str, paths: list[str]) -> None:
        results[name] = fetch_pages([server.url(p) for p in paths], config, hosts=hosts)

    # two sources' batches at the same time (flow: sources run concurrently), then a later batch
    threads = [
        threading.Thread(target=batch, args=("a", ["/a1", "/a2"])),
        threading.Thread(target=batch, args=("b", ["/b1", "/b2"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    batch("c", ["/c1"])

    assert all(r.ok for outcomes in results.values() for r in outcomes)
    assert len(spans) == 5
    _assert_spaced(spans, 0.25)


# === S3: deflate (and gzip) bombs stop near the cap on decoded bytes =============================


def _bomb(wbits: int, decoded_mb: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    megabyte = bytes(1_000_000)
    return b"".join(compressor.compress(megabyte) for _ in range(decoded_mb)) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "wbits"),
    [("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS), ("gzip", 16 + zlib.MAX_WBITS)],
    ids=["deflate-zlib", "deflate-raw", "gzip"],
)
def test_s3_compression_bomb_stops_near_cap_on_decoded_bytes(
    server: LoopbackServer, decoded: DecodedBytes, encoding: str, wbits: int
) -> None:
    bomb = _bomb(wbits, 100)  # ~100 KB on the wire, 100 MB inflated
    assert len(bomb) < 200_000
    server.routes["/bomb"] = Route(
        bomb, headers={"Content-Type": "text/html", "Content-Encoding": encoding}
    )
    server.routes["/ok"] = Route(HTML)
    cap = 1_000_000
    tracemalloc.start()
    try:
        (bad, good), elapsed = _timed_pages(
            [server.url("/bomb"), server.url("/ok")], _config(max_page_bytes=cap)
        )
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert bad.reason == "decompression_limit"
    assert bad.attempts == 1  # not retried
    assert bad.body is None
    assert decoded.total < 1.2 * cap  # stopped near the cap (Scrapy: < 1.1 MB for 1 MB)
    assert peak < 10 * cap
    assert elapsed < 2.0
    assert good.ok


# === S4: Content-Encoding chains =================================================================


def _layers(data: bytes, count: int) -> bytes:
    for _ in range(count):
        data = gzip.compress(data, 1)
    return data


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param(
            [("Content-Encoding", "gzip")] * 50,
            _layers(_bomb(16 + zlib.MAX_WBITS, 20), 49),
            id="50-header-lines",
        ),
        pytest.param(
            [("Content-Encoding", ", ".join(["gzip"] * 50))],
            _layers(_bomb(16 + zlib.MAX_WBITS, 20), 49),
            id="one-header-50-codings",
        ),
        pytest.param(
            [("Content-Encoding", "gzip, bogus")], gzip.compress(HTML), id="unknown-coding"
        ),
        pytest.param([("Content-Encoding", "gzip")], b"not gzip at all", id="corrupt-gzip"),
    ],
)
def test_s4_bad_content_encoding_chain_is_rejected(
    raw: RawServer,
    server: LoopbackServer,
    decoded: DecodedBytes,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    raw.routes["/chain"] = respond(200, [("Content-Type", "text/html"), *headers], body)
    server.routes["/ok"] = Route(HTML)
    (bad, good), elapsed = _timed_pages([raw.url("/chain"), server.url("/ok")], _config())

    assert bad.reason in ("decoding_error", "decompression_limit")
    assert bad.attempts == 1
    assert raw.count("/chain") == 1
    assert bad.body is None
    assert decoded.total < 1_000_000
    assert elapsed < 1.0
    assert good.ok


def test_s4_short_chain_of_gzip_is_decoded(raw: RawServer) -> None:
    raw.routes["/three"] = respond(
        200,
        [
            ("Content-Type", "text/html"),
            ("Content-Encoding", "gzip, gzip"),
            ("Content-Encoding", "gzip"),
        ],
        _layers(HTML, 3),
    )
    outcome = _fetch(raw.url("/three"))

    assert outcome.ok, outcome
    assert outcome.body == HTML


# === S5: compression bomb in a redirect body =====================================================


def test_s5_bomb_in_redirect_body_is_not_decompressed(
    raw: RawServer, decoded: DecodedBytes
) -> None:
    member = gzip.compress(bytes(10_000_000), 9)  # concatenated gzip members: 30 MB inflated
    raw.routes["/start"] = respond(
        302, [("Location", "/final"), ("Content-Encoding", "gzip")], member * 3
    )
    raw.routes["/final"] = respond(200, [("Content-Type", "text/html")], HTML)
    outcome, elapsed = _timed(raw.url("/start"), config=_config(max_page_bytes=1_000_000))

    assert outcome.ok, outcome
    assert outcome.final_url == raw.url("/final")
    assert outcome.body == HTML
    assert decoded.total < 100_000  # the redirect body was never inflated
    assert elapsed < 1.0


# === R1/R2: non-public addresses in any spelling, refused before connecting ======================


@pytest.mark.parametrize(
    "url",
    [
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://198.18.0.1/",
        "http://0177.0.0.1/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped 169.254.169.254
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
        "http://0/",
    ],
)
def test_r1_r2_non_public_address_refused_before_connect(
    network: LoopbackOnlyNetwork, url: str
) -> None:
    outcome = _fetch(url, config=_config(network_policy=NetworkPolicy(), retries=2))

    assert outcome.reason == "blocked_address"
    assert outcome.attempts == 1  # a refusal is final
    assert network.connects == []
    assert network.refused == []


@pytest.mark.parametrize(
    "host",
    ["0177.0.0.2", "2130706434", "0x7f000002", "127.2", "[::ffff:127.0.0.2]", "[::ffff:7f00:2]"],
)
def test_r2_other_spellings_of_an_address_outside_the_policy_are_refused(
    outside: RawServer, server: LoopbackServer, host: str
) -> None:
    server.routes["/ok"] = Route(HTML)
    url = f"http://{host}:{outside.port}/target"
    bad, good = fetch_pages([url, server.url("/ok")], _config())

    assert bad.reason == "blocked_address"
    assert outside.connections == 0
    assert good.ok


# === R3: redirect to a non-public address is refused at the hop ==================================


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/target",
        "http://0177.0.0.2:{port}/target",
        "http://2130706434:{port}/target",
        "http://[::ffff:127.0.0.2]:{port}/target",
    ],
)
def test_r3_redirect_to_non_public_address_refused_at_the_hop(
    network: LoopbackOnlyNetwork, outside: RawServer, server: LoopbackServer, location: str
) -> None:
    server.routes["/start"] = Route(
        status=302, headers={"Location": location.format(port=outside.port)}
    )
    outcome = _fetch(server.url("/start"))

    assert outcome.reason == "blocked_address"
    assert server.hits == ["/start"]
    assert outside.connections == 0
    assert network.refused == []


# === R4: several A/AAAA records, one of them not allowed =========================================


@pytest.mark.parametrize(
    ("addresses", "policy"),
    [
        (["93.184.216.34", "127.0.0.2"], LOOPBACK_ONLY),
        (["127.0.0.2", "93.184.216.34"], LOOPBACK_ONLY),
        (["127.0.0.1", "127.0.0.2"], LOOPBACK_ONLY),
        (["93.184.216.34", "10.0.0.1"], NetworkPolicy()),
        (["93.184.216.34", "::1"], NetworkPolicy()),
    ],
)
def test_r4_mixed_records_with_any_disallowed_address_are_refused(
    network: LoopbackOnlyNetwork,
    outside: RawServer,
    server: LoopbackServer,
    addresses: list[str],
    policy: NetworkPolicy,
) -> None:
    network.names["mixed.example.test"] = addresses
    server.routes["/target"] = Route(HTML)
    url = f"http://mixed.example.test:{outside.port}/target"
    outcome = _fetch(url, config=_config(network_policy=policy))

    assert outcome.reason == "blocked_address"
    assert outside.connections == 0
    assert network.connects == []
    assert network.refused == []  # the public address was never tried either


# === R5: schemes, userinfo, NUL, ports ===========================================================


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://user@127.0.0.1:{port}/ok", "blocked_userinfo"),
        ("http://user:pw@localhost:{port}/ok", "blocked_userinfo"),
        ("data:text/html,<h1>hi</h1>", "blocked_scheme"),
        ("javascript:alert(1)", "blocked_scheme"),
        ("file:///etc/passwd", "blocked_scheme"),
    ],
)
def test_r5_scheme_and_userinfo_refused_without_request(
    network: LoopbackOnlyNetwork, server: LoopbackServer, url: str, reason: str
) -> None:
    server.routes["/ok"] = Route(HTML)
    bad, good = fetch_pages([url.format(port=_port(server)), server.url("/ok")], _config())

    assert bad.reason == reason
    assert bad.attempts == 1
    assert good.ok
    assert server.hits == ["/ok"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\x00.example.test:{port}/ok",
        "http://127.0.0.1:{port}\x00/ok",
        "http://127.0.0.1\x00:{port}/ok",
    ],
    ids=["nul-in-host", "nul-after-port", "nul-before-port"],
)
def test_r5_embedded_nul_in_host_is_not_fetched(
    network: LoopbackOnlyNetwork, server: LoopbackServer, url: str
) -> None:
    server.routes["/ok"] = Route(HTML)
    bad, good = fetch_pages([url.format(port=_port(server)), server.url("/ok")], _config())

    assert bad.reason == "invalid_url"
    assert good.ok
    assert server.hits == ["/ok"]


@pytest.mark.parametrize("port", [22, 6379])
def test_r5_service_ports_are_refused(port: int) -> None:
    with pytest.raises(BlockedURL):
        check_url(f"http://93.184.216.34:{port}/", NetworkPolicy())


# === R7: feedparser only ever gets the bytes we fetched ==========================================


def test_r7_feedparser_only_gets_fetched_bytes(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_parse = feedparser.parse
    given: list[type] = []

    def parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        given.append(type(source))
        if isinstance(source, str):
            raise AssertionError(f"feedparser.parse() got a string: {source[:80]!r}")
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", parse)
    server.routes["/feed.xml"] = Route(
        rss_feed("f", FEED_LINKS), headers={"Content-Type": "application/rss+xml"}
    )
    fetched = fetch_pages([server.url("/feed.xml")], _config(), kind="feed")
    read = read_feeds(fetched, 50)

    assert [i.url for i in read.items] == FEED_LINKS
    assert given and all(t in (bytes, io.BytesIO) for t in given)
    assert server.hits == ["/feed.xml"]  # feedparser made no request of its own


# === the codes asserted above are the ones operators can look up ==============================


def test_reason_codes_asserted_here_are_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_<>0-9]+)`", readme, re.MULTILINE))
    for row in re.findall(r"^\| ((?:`[a-z_]+`, )+`[a-z_]+`) \|", readme, re.MULTILINE):
        documented.update(re.findall(r"`([a-z_]+)`", row))

    assert documented >= REASONS_ASSERTED, REASONS_ASSERTED - documented
