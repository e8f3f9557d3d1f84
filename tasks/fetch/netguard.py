"""Refuse URLs that resolve to loopback, private or otherwise non-public addresses (SSRF guard)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection

from tasks.dedup.urls import MAX_URL_BYTES
from tasks.records import Reason

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = {"1", "true", "yes", "on"}
# Ports a news site may serve HTTP on; anything else on a public address (SSH 22, Redis 6379, ...)
# is a service, not a web page.
WEB_PORTS = frozenset({80, 443, 8000, 8008, 8080, 8081, 8443, 8888})
_FALSE = {"", "0", "false", "no", "off"}


class BlockedURL(Exception):
    """The URL may not be fetched; ``reason`` is a machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """Which non-public addresses are allowed: none (default), all, or the listed networks."""

    allow_all: bool = False
    networks: tuple[IPNetwork, ...] = ()
    ports: frozenset[int] = WEB_PORTS  # allowed on public addresses

    @classmethod
    def parse(cls, text: str) -> NetworkPolicy:
        value = text.strip().lower()
        if value in _TRUE:
            return cls(allow_all=True)
        if value in _FALSE:
            return cls()
        nets = []
        for part in value.split(","):
            try:
                nets.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"allow_private_networks: expected true, false or a list of CIDRs, "
                    f"got {part.strip()!r}"
                ) from exc
        return cls(networks=tuple(nets))

    def allows_port(self, address: IPAddress, port: int) -> bool:
        """Public addresses only on web ports; allowed private ranges (tests, mirrors) on any."""
        if port in self.ports or self.allow_all:
            return True
        return not is_public(address) and any(address in net for net in self.networks)

    def allows(self, address: IPAddress) -> bool:
        if is_public(address) or self.allow_all:
            return True
        return any(address in net for net in self.networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96") or address in ipaddress.ip_network(
        "64:ff9b:1::/48"
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def is_public(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (embedded IPv4 checked too)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses ``host`` resolves to (numeric spellings such as ``2130706433`` included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def guarded(base: type[HTTPConnection], policy: NetworkPolicy) -> type[HTTPConnection]:
    """A connection class that checks the address it actually connected to (whatever DNS said
    the second time), so a name that rebinds after :func:`check_url` cannot reach a private
    address."""
    if policy.allow_all:
        return base

    class Guarded(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            sock: socket.socket = super()._new_conn()
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
            if not policy.allows(peer):
                sock.close()
                raise BlockedURL(
                    Reason.BLOCKED_ADDRESS, f"{self.host} connected to non-public {peer}"
                )
            return sock

    return Guarded


def _target(url: str) -> tuple[str, int]:
    """The URL's host and port, after refusing other schemes, userinfo, overlong and broken
    URLs."""
    if len(url.encode("utf-8", "replace")) > MAX_URL_BYTES:  # e.g. a redirect to a 6 KB URL
        raise BlockedURL(Reason.URL_TOO_LONG, f"a URL of over {MAX_URL_BYTES} bytes")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedURL(Reason.BLOCKED_SCHEME, f"scheme {parts.scheme!r} is not http or https")
    if parts.username is not None or parts.password is not None:
        raise BlockedURL(Reason.BLOCKED_USERINFO, "URLs with user information are refused")
    host = parts.hostname
    if not host:
        raise BlockedURL(Reason.INVALID_URL, "no host")
    try:
        return host, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedURL(Reason.INVALID_URL, str(exc)) from exc


def _check_addresses(host: str, port: int, policy: NetworkPolicy) -> None:
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise BlockedURL(Reason.DNS_ERROR, f"{host}: {exc}") from exc
    for address in addresses:
        if not policy.allows(address):
            raise BlockedURL(
                Reason.BLOCKED_ADDRESS,
                f"{host} resolves to {address}, which is not a public address "
                "(set NEWSFLOW_ALLOW_PRIVATE_NETWORKS to allow it)",
            )
    for address in addresses:
        if not policy.allows_port(address, port):
            raise BlockedURL(Reason.BLOCKED_PORT, f"port {port} is not a web port")


def check_url(url: str, policy: NetworkPolicy) -> None:
    """Raise :class:`BlockedURL` unless ``url`` is http(s), without userinfo, resolving publicly."""
    _check_addresses(*_target(url), policy)


class CheckedHosts:
    """:func:`check_url` with each host's resolution and address check done once (one per run):
    a host's verdict is remembered, except a DNS failure (transient: looked up again). The
    address actually connected to is still checked on every connection (:func:`guarded`)."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._verdicts: dict[tuple[str, int], BlockedURL | None] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str) -> None:
        target = _target(url)
        with self._lock:
            known = target in self._verdicts
            verdict = self._verdicts.get(target)
        if not known:
            try:
                _check_addresses(*target, self.policy)
            except BlockedURL as exc:
                if exc.reason == Reason.DNS_ERROR:
                    raise
                verdict = exc
            with self._lock:
                self._verdicts[target] = verdict
        if verdict is not None:
            raise BlockedURL(verdict.reason, verdict.detail)
