"""The one HTTP layer: every feed and page request goes through :func:`fetch`.

Requests never follow redirects on their own (each hop is re-checked by the network guard), read the
body as a stream under a size cap and a wall-clock deadline, ignore proxy settings from the
environment, and always verify TLS. Failures come back as a :class:`FetchOutcome` with a reason
code; nothing here raises for a bad server.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tasks.netguard import BlockedURL, NetworkPolicy, check_url
from tasks.records import FetchOutcome

HTML_TYPES = ("text/html", "application/xhtml+xml")
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchConfig:
    user_agent: str
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_page_bytes: int = 10_000_000
    max_feed_bytes: int = 20_000_000
    network_policy: NetworkPolicy = field(default_factory=NetworkPolicy)
    delay: float = 1.0
    concurrency: int = 8
    max_redirects: int = 5


class _Abort(Exception):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _guarded(base: type[HTTPConnection], policy: NetworkPolicy) -> type[HTTPConnection]:
    """A connection class that checks the address it actually connected to (whatever DNS said
    the second time), so a name that rebinds after :func:`check_url` cannot reach a private
    address."""

    class Guarded(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            sock: socket.socket = super()._new_conn()
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
            if not policy.allows(peer):
                sock.close()
                raise BlockedURL(
                    "blocked_private_network", f"{self.host} connected to non-public {peer}"
                )
            return sock

    return Guarded


def _guarded_adapter(policy: NetworkPolicy) -> HTTPAdapter:
    adapter = HTTPAdapter(max_retries=0)

    class Pool(HTTPConnectionPool):
        ConnectionCls = _guarded(HTTPConnection, policy)

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = _guarded(HTTPSConnection, policy)  # type: ignore[assignment]

    adapter.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}
    return adapter


def make_session(config: FetchConfig) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the environment
    if not config.network_policy.allow_all:
        adapter = _guarded_adapter(config.network_policy)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    session.headers["User-Agent"] = config.user_agent
    session.headers["Accept-Encoding"] = "gzip, deflate"
    return session


def _read_body(response: requests.Response, cap: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _Abort("too_large", f"Content-Length {declared} exceeds {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        # read1 returns as soon as any bytes arrive (decoded, at most CHUNK of them), so a server
        # dripping bytes meets the deadline check after every read, and a compression bomb the cap.
        while chunk := response.raw.read1(CHUNK, decode_content=True):
            size += len(chunk)
            if size > cap:
                raise _Abort("too_large", f"body exceeds {cap} bytes")
            if time.monotonic() > deadline:
                raise _Abort("deadline_exceeded", "response took longer than the total deadline")
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise _Abort("read_timeout", str(exc)) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise _Abort("decoding_error", str(exc)) from exc
    except (urllib3.exceptions.ProtocolError, http.client.HTTPException) as exc:
        raise _Abort("incomplete_body", str(exc)) from exc
    return b"".join(chunks)


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _get(
    session: requests.Session, url: str, kind: str, config: FetchConfig, deadline: float
) -> tuple[requests.Response, bytes, str]:
    """Follow redirects by hand, re-checking each hop; return the final response and its body."""
    current = url
    for _hop in range(config.max_redirects + 1):
        check_url(current, config.network_policy)
        response = session.get(
            current,
            timeout=(config.connect_timeout, config.read_timeout),
            stream=True,
            allow_redirects=False,
            headers={"Accept": _accept(kind)},
        )
        with response:
            if response.is_redirect and "Location" in response.headers:
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status_code != 200:
                raise _Abort(f"http_{response.status_code}", response.reason)
            if kind == "page" and _media_type(response) not in HTML_TYPES:
                raise _Abort("not_html", f"content type {_media_type(response) or 'missing'}")
            cap = config.max_page_bytes if kind == "page" else config.max_feed_bytes
            return response, _read_body(response, cap, deadline), current
    raise _Abort("too_many_redirects", f"more than {config.max_redirects} redirects")


def _accept(kind: str) -> str:
    if kind == "page":
        return "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
    return "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"


_EXCEPTION_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (requests.exceptions.ConnectTimeout, "connect_timeout"),
    (requests.exceptions.ReadTimeout, "read_timeout"),
    (requests.exceptions.SSLError, "tls_error"),
    (requests.exceptions.ContentDecodingError, "decoding_error"),
    (requests.exceptions.ChunkedEncodingError, "incomplete_body"),
    (requests.exceptions.ConnectionError, "connection_error"),
    (requests.exceptions.InvalidURL, "invalid_url"),
    (requests.exceptions.MissingSchema, "invalid_url"),
    (requests.exceptions.InvalidSchema, "invalid_url"),
    (ValueError, "invalid_url"),
    (requests.exceptions.RequestException, "request_error"),
)


def fetch(session: requests.Session, url: str, kind: str, config: FetchConfig) -> FetchOutcome:
    """Fetch ``url`` (a ``feed`` or a ``page``); never raises for network or server faults."""
    started_at = datetime.now(UTC)
    start = time.monotonic()
    status: int | None = None
    try:
        response, body, final_url = _get(session, url, kind, config, start + config.total_timeout)
    except (BlockedURL, _Abort) as exc:
        reason, detail = exc.reason, exc.detail
    except Exception as exc:  # one bad server never stops a run: classify and record
        reason = next((r for t, r in _EXCEPTION_REASONS if isinstance(exc, t)), "fetch_error")
        detail = f"{type(exc).__name__}: {exc}"
    else:
        return FetchOutcome(
            url=url,
            kind=kind,
            reason="ok",
            final_url=final_url,
            status_code=response.status_code,
            content_type=response.headers.get("Content-Type"),
            duration_ms=int((time.monotonic() - start) * 1000),
            bytes_read=len(body),
            body=body,
            started_at=started_at,
        )
    if reason.startswith("http_"):
        status = int(reason[5:])
    return FetchOutcome(
        url=url,
        kind=kind,
        reason=reason,
        status_code=status,
        duration_ms=int((time.monotonic() - start) * 1000),
        detail=(detail or "")[:500] or None,
        started_at=started_at,
    )


def _host_key(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def fetch_pages(urls: Iterable[str], config: FetchConfig, kind: str = "page") -> list[FetchOutcome]:
    """Fetch many URLs: one request at a time per host with ``config.delay`` between them, and
    different hosts concurrently. Results come back in the order of ``urls``."""
    ordered = list(urls)
    by_host: dict[str, list[int]] = defaultdict(list)
    for index, url in enumerate(ordered):
        by_host[_host_key(url)].append(index)
    results: list[FetchOutcome | None] = [None] * len(ordered)

    def run_host(indexes: list[int]) -> None:
        with make_session(config) as session:
            for position, index in enumerate(indexes):
                if position and config.delay:
                    time.sleep(config.delay)
                results[index] = fetch(session, ordered[index], kind, config)

    if not ordered:
        return []
    workers = max(1, min(config.concurrency, len(by_host)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        list(pool.map(run_host, by_host.values()))
    return [r for r in results if r is not None]
