"""The one HTTP layer: every feed, robots.txt and page request goes through :func:`fetch`.

Requests never follow redirects on their own (each hop is re-checked by the network guard), read
the body as a stream under a size cap and a wall-clock deadline, ignore proxy settings from the
environment (a source's ``proxy`` is the only one used: the guard checks each target URL before it
goes to the proxy, not the proxy's own address, which the operator chose), always verify TLS, and
retry transient failures a few times with backoff and jitter.
Failures come back as a :class:`FetchOutcome` with a reason code; nothing here raises for a bad
server. :func:`tasks.fetch.polite.fetch_pages` adds politeness, robots.txt and the per-host circuit
breaker.
"""

from __future__ import annotations

import http.client
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import requests
import urllib3

from tasks.fetch.connections import attempt_deadline, new_session
from tasks.fetch.netguard import BlockedURL, NetworkPolicy, check_url
from tasks.fetch.robots import ROBOTS_MAX_BYTES
from tasks.records import FetchOutcome, Reason, http_reason

HTML_TYPES = ("text/html", "application/xhtml+xml")
CHUNK = 64 * 1024
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_REASONS = frozenset({Reason.CONN_ERROR, Reason.TIMEOUT, Reason.DNS_ERROR})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


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
    retries: int = 2
    backoff: float = 0.5  # seconds before the first retry; doubles, plus up to 50 % jitter
    retry_after_max: float = 30.0  # longer Retry-After: defer the host to the next run
    robots: bool = True
    max_crawl_delay: float = 60.0  # longer Crawl-delay: skip the host
    host_max_failures: int = 5
    proxy: str | None = None  # http(s) proxy URL for every request (a source's ``proxy``)


class _Abort(Exception):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def make_session(config: FetchConfig) -> requests.Session:
    """A session for :func:`fetch` (connections guarded and deadline-bound, no redirects followed,
    nothing from the environment)."""
    return new_session(config.network_policy, config.user_agent)


def _read_body(response: requests.Response, cap: int, deadline: float, truncate: bool) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap and not truncate:
        raise _Abort(Reason.TOO_LARGE, f"Content-Length {declared} exceeds {cap} bytes")
    over = (
        Reason.DECOMPRESSION_LIMIT if response.headers.get("Content-Encoding") else Reason.TOO_LARGE
    )
    chunks: list[bytes] = []
    size = 0
    try:
        # read1 returns as soon as any bytes arrive (decoded, at most CHUNK of them), so a server
        # dripping bytes meets the deadline check after every read, and a compression bomb the cap.
        while chunk := response.raw.read1(CHUNK, decode_content=True):
            size += len(chunk)
            if size > cap:
                if truncate:
                    chunks.append(chunk[: cap - size + len(chunk)])
                    break
                raise _Abort(over, f"decoded body exceeds {cap} bytes")
            if time.monotonic() > deadline:
                raise _Abort(Reason.TIMEOUT, "response took longer than the total deadline")
            chunks.append(chunk)
        else:  # read to its end: the connection goes back to the session's pool (kept alive)
            response.raw.release_conn()
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise _Abort(Reason.TIMEOUT, f"read timeout: {exc}") from exc
    except urllib3.exceptions.DecodeError as exc:
        raise _Abort(Reason.DECODING_ERROR, str(exc)) from exc
    except (urllib3.exceptions.ProtocolError, http.client.HTTPException) as exc:
        raise _Abort(Reason.CONN_ERROR, f"body cut short: {exc}") from exc
    return b"".join(chunks)


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _accept(kind: str) -> str:
    if kind == "page":
        return "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
    if kind == "robots":
        return "text/plain,*/*;q=0.5"
    return "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"


def _cap(kind: str, config: FetchConfig) -> int:
    if kind == "robots":
        return ROBOTS_MAX_BYTES
    return config.max_page_bytes if kind == "page" else config.max_feed_bytes


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or HTTP-date); ``None`` if absent or
    garbage."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class _Response:
    status: int
    final_url: str
    headers: Mapping[str, str]
    body: bytes


Check = Callable[[str], None]  # raises BlockedURL for a URL that may not be fetched


def _get(
    session: requests.Session,
    url: str,
    kind: str,
    config: FetchConfig,
    deadline: float,
    headers: Mapping[str, str],
    check: Check,
) -> _Response:
    """Follow redirects by hand, re-checking each hop; redirect bodies are never read."""
    current = url
    for _hop in range(config.max_redirects + 1):
        check(current)
        response = session.get(
            current,
            timeout=(config.connect_timeout, config.read_timeout),
            stream=True,
            allow_redirects=False,
            headers={"Accept": _accept(kind), **headers},
            proxies={"http": config.proxy, "https": config.proxy} if config.proxy else None,
        )
        with response:
            if time.monotonic() >= deadline:  # the watchdog cut the headers short
                raise _Abort(Reason.TIMEOUT, "headers took longer than the total deadline")
            if response.status_code in _REDIRECTS and "Location" in response.headers:
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status_code == 304 and headers:
                return _Response(304, current, response.headers, b"")
            if response.status_code != 200:
                return _Response(response.status_code, current, response.headers, b"")
            if kind == "page" and _media_type(response) not in HTML_TYPES:
                raise _Abort(Reason.NOT_HTML, f"content type {_media_type(response) or 'missing'}")
            body = _read_body(response, _cap(kind, config), deadline, truncate=kind == "robots")
            return _Response(200, current, response.headers, body)
    raise _Abort(Reason.TOO_MANY_REDIRECTS, f"more than {config.max_redirects} redirects")


_EXCEPTION_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (requests.exceptions.Timeout, Reason.TIMEOUT),
    (requests.exceptions.SSLError, Reason.TLS_ERROR),
    (requests.exceptions.ContentDecodingError, Reason.DECODING_ERROR),
    (requests.exceptions.ChunkedEncodingError, Reason.CONN_ERROR),
    (requests.exceptions.ConnectionError, Reason.CONN_ERROR),
    (requests.exceptions.InvalidURL, Reason.INVALID_URL),
    (requests.exceptions.MissingSchema, Reason.INVALID_URL),
    (requests.exceptions.InvalidSchema, Reason.INVALID_URL),
    (ValueError, Reason.INVALID_URL),
    (requests.exceptions.RequestException, "request_error"),
)


_POOL_NAMES = re.compile(r"\b\w+\(host='[^']*', port=\d+\): ")


def describe_error(exc: BaseException) -> str:
    """An error fit for ``fetches.detail``: the innermost cause requests and urllib3 wrap (not
    "Max retries exceeded", which is not true: we retry ourselves), without the names of our
    connection classes (``Deadlined(host=...)``) or object addresses."""
    inner: BaseException = exc
    while True:
        wrapped = getattr(inner, "reason", None)
        if not isinstance(wrapped, BaseException) and inner.args:
            wrapped = inner.args[0]
        if not isinstance(wrapped, BaseException) or wrapped is inner:
            break
        inner = wrapped
    text = _POOL_NAMES.sub("", str(inner))
    text = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>:? ?", "", text)
    return f"{type(inner).__name__}: {text}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try's outcome, and when to try again: ``retry_in`` seconds (backoff with jitter, or
    the server's Retry-After), ``None`` when the outcome is final."""

    outcome: FetchOutcome
    retry_in: float | None = None


def _attempt(
    session: requests.Session,
    url: str,
    kind: str,
    config: FetchConfig,
    headers: Mapping[str, str],
    check: Check,
) -> tuple[FetchOutcome, float | None, bool]:
    """One try (redirects included): the outcome, the server's Retry-After if any, and whether
    the attempt ran into the total deadline (a server that drips: never retried in the run)."""
    started_at = datetime.now(UTC)
    start = time.monotonic()
    deadline = start + config.total_timeout
    attempt_deadline.at = deadline
    try:
        got = _get(session, url, kind, config, deadline, headers, check)
    except (BlockedURL, _Abort) as exc:
        reason, detail = exc.reason, exc.detail
    except Exception as exc:  # one bad server never stops a run: classify and record
        reason = next((r for t, r in _EXCEPTION_REASONS if isinstance(exc, t)), "fetch_error")
        detail = describe_error(exc)
        if time.monotonic() >= deadline:  # our watchdog cut the connection
            reason, detail = (
                Reason.TIMEOUT,
                f"response took longer than the total deadline ({detail})",
            )
    else:
        reason = {200: Reason.OK, 304: Reason.NOT_MODIFIED}.get(got.status, http_reason(got.status))
        outcome = FetchOutcome(
            url=url,
            kind=kind,
            reason=reason,
            final_url=got.final_url,
            status_code=got.status,
            content_type=got.headers.get("Content-Type"),
            duration_ms=int((time.monotonic() - start) * 1000),
            bytes_read=len(got.body),
            body=got.body if got.status == 200 else None,
            started_at=started_at,
            etag=got.headers.get("ETag"),
            last_modified=got.headers.get("Last-Modified"),
            cache_control=got.headers.get("Cache-Control"),
            detail=None if got.status in (200, 304) else str(got.status),
        )
        return outcome, retry_after_seconds(got.headers.get("Retry-After")), False
    finally:
        attempt_deadline.at = None
    outcome = FetchOutcome(
        url=url,
        kind=kind,
        reason=reason,
        duration_ms=int((time.monotonic() - start) * 1000),
        detail=(detail or "")[:500] or None,
        started_at=started_at,
    )
    return outcome, None, reason == Reason.TIMEOUT and time.monotonic() >= deadline


def _retryable(outcome: FetchOutcome) -> bool:
    return outcome.reason in RETRY_REASONS or outcome.status_code in RETRY_STATUSES


def attempt(
    session: requests.Session,
    url: str,
    kind: str,
    config: FetchConfig,
    number: int,
    headers: Mapping[str, str] | None = None,
    check: Check | None = None,
) -> Attempt:
    """Try ``url`` once (``number``: which try, from 1) and say whether and when to try again:
    transient failures (connection errors, read timeouts, 408/429/5xx) up to ``config.retries``
    more times; a total-deadline timeout never. A ``Retry-After`` above
    ``config.retry_after_max`` is not waited for: the outcome says to defer the host."""
    policy = config.network_policy
    tried, retry_after, deadline_hit = _attempt(
        session, url, kind, config, headers or {}, check or (lambda u: check_url(u, policy))
    )
    outcome = replace(tried, attempts=number)
    if retry_after is not None and retry_after > config.retry_after_max:
        detail = f"Retry-After {retry_after:.0f}s exceeds {config.retry_after_max:.0f}s"
        return Attempt(replace(outcome, defer_host=True, detail=detail))
    if deadline_hit or not _retryable(outcome) or number > config.retries:
        return Attempt(outcome)
    wait = config.backoff * (2 ** (number - 1)) * (1 + random.random() / 2)  # noqa: S311 - jitter
    return Attempt(outcome, wait if retry_after is None else max(wait, retry_after))


def fetch(
    session: requests.Session,
    url: str,
    kind: str,
    config: FetchConfig,
    headers: Mapping[str, str] | None = None,
    check: Check | None = None,
) -> FetchOutcome:
    """Fetch ``url`` (a ``feed``, ``robots`` or ``page``) with :func:`attempt`'s retries,
    sleeping between tries (one URL; :func:`tasks.fetch.polite.fetch_pages` gives the host's slot to
    other hosts instead); never raises for a bad server."""
    number = 1
    tried = attempt(session, url, kind, config, number, headers, check)
    while tried.retry_in is not None:
        time.sleep(tried.retry_in)
        number += 1
        tried = attempt(session, url, kind, config, number, headers, check)
    return tried.outcome
