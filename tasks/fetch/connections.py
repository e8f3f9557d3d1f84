"""The connections under :mod:`tasks.fetch.fetch`: pools whose connections are bound by the
attempt's wall-clock deadline and re-checked by the network guard after connecting (a configured
proxy's are not: the operator chose that address, and each target URL is checked before it goes
there), and a session that never follows redirects and reads nothing from the environment."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tasks.fetch.netguard import NetworkPolicy, guarded


class _NoRedirectSession(requests.Session):
    """A session that never resolves redirects itself: even with ``allow_redirects=False``
    requests reads (and decompresses) a 3xx body to prepare the next hop; we follow hops by hand
    and never read their bodies."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


# The current attempt's deadline (time.monotonic()), per thread; tasks.fetch.fetch sets it.
attempt_deadline = threading.local()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _with_deadline(base: type[HTTPConnection]) -> type[HTTPConnection]:
    """A connection class that cuts the socket when the attempt's deadline passes while waiting
    for the status line and headers (a server dripping headers never trips the read timeout)."""

    class Deadlined(base):  # type: ignore[valid-type,misc]
        def getresponse(self) -> Any:
            at = getattr(attempt_deadline, "at", None)
            timer = None
            if at is not None and self.sock is not None:
                timer = threading.Timer(max(0.0, at - time.monotonic()), _shutdown, (self.sock,))
                timer.daemon = True
                timer.start()
            try:
                return super().getresponse()
            finally:
                if timer is not None:
                    timer.cancel()

    return Deadlined


def _pools(policy: NetworkPolicy | None) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections are bound by the attempt's deadline and, under a
    ``policy``, re-checked after connecting (netguard); without one (a configured proxy, which
    is where those connections go) not re-checked."""

    def connection(base: type[HTTPConnection]) -> type[HTTPConnection]:
        return _with_deadline(base if policy is None else guarded(base, policy))

    class Pool(HTTPConnectionPool):
        ConnectionCls = connection(HTTPConnection)

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = connection(HTTPSConnection)  # type: ignore[assignment]

    return {"http": Pool, "https": TLSPool}


class _Adapter(HTTPAdapter):
    """Direct connections re-checked by netguard; connections to a proxy (the target URL was
    checked before the request) only deadline-bound."""

    def __init__(self, policy: NetworkPolicy) -> None:
        super().__init__(max_retries=0)
        self.poolmanager.pool_classes_by_scheme = _pools(policy)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _pools(None)
        return manager


def new_session(policy: NetworkPolicy, user_agent: str) -> requests.Session:
    session = _NoRedirectSession()
    session.trust_env = False  # no proxies or netrc from the environment
    adapter = _Adapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept-Encoding"] = "gzip, deflate"
    return session
