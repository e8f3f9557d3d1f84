"""Test servers that misbehave more than ``http.server`` can, and a loopback-only network.

:class:`RawServer` speaks HTTP/1.1 over plain sockets on a loopback address, one request per
connection: a handler gets the connected socket and writes whatever bytes it likes (a
``Content-Length`` that lies, a reset in the middle of the body, a compression bomb in a redirect,
fifty ``Content-Encoding`` lines, headers dripped one byte at a time).

:class:`LoopbackOnlyNetwork` replaces the resolver and ``connect`` so that a test can never send a
packet off the machine: names resolve only from a table the test writes (numeric spellings are
parsed locally), and connecting to any non-loopback address is refused and recorded.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased


RawHandler = Callable[[socket.socket, RawRequest], None]


def send(conn: socket.socket, data: bytes) -> bool:
    """Write ``data``; False once the client has gone away."""
    try:
        conn.sendall(data)
    except OSError:
        return False
    return True


def head(status: int, headers: Iterable[tuple[str, str]], reason: str = "X") -> bytes:
    """A status line and header block (repeated names allowed), ``Connection: close`` added."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not an orderly FIN."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        conn.close()


def respond(
    status: int, headers: Iterable[tuple[str, str]], body: bytes = b"", length: bool = True
) -> RawHandler:
    """A complete response (``Content-Length`` added unless ``length`` is False)."""
    fixed = list(headers) + ([("Content-Length", str(len(body)))] if length else [])

    def handler(conn: socket.socket, _request: RawRequest) -> None:
        send(conn, head(status, fixed) + body)

    return handler


def lying_length(declared: int, body: bytes, content_type: str = "text/html") -> RawHandler:
    """Promise ``declared`` bytes, send ``body`` (shorter), then close normally."""
    headers = [("Content-Type", content_type), ("Content-Length", str(declared))]

    def handler(conn: socket.socket, _request: RawRequest) -> None:
        send(conn, head(200, headers) + body)
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)

    return handler


def reset_mid_body(declared: int, body: bytes, content_type: str = "text/html") -> RawHandler:
    """Promise ``declared`` bytes, send ``body`` (shorter), then reset the connection."""
    headers = [("Content-Type", content_type), ("Content-Length", str(declared))]

    def handler(conn: socket.socket, _request: RawRequest) -> None:
        send(conn, head(200, headers) + body)
        time.sleep(0.05)  # let the client read the part that came, then pull the plug
        reset(conn)

    return handler


def drip(data: bytes, interval: float, stop: threading.Event) -> RawHandler:
    """Send ``data`` one byte every ``interval`` seconds (until ``stop`` or the client leaves)."""

    def handler(conn: socket.socket, _request: RawRequest) -> None:
        for byte in data:
            if stop.wait(interval) or not send(conn, bytes([byte])):
                return

    return handler


class RawServer:
    """One-request-per-connection HTTP server on ``host`` (a loopback address) until closed.

    ``hits`` lists the paths requested; ``connections`` counts accepted connections, including
    those that never sent a request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, RawHandler] = {}
        self.hits: list[str] = []
        self.connections = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str) -> int:
        with self._lock:
            return self.hits.count(path)

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _read_request(self, conn: socket.socket) -> RawRequest | None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65_536:
            try:
                chunk = conn.recv(4096)
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2:
            return None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return RawRequest(parts[0], parts[1], headers)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        try:
            request = self._read_request(conn)
            if request is None:
                return
            with self._lock:
                self.hits.append(request.path)
            route = self.routes.get(request.path)
            if route is None:
                route = respond(404, [("Content-Type", "text/plain")], b"not found")
            route(conn, request)
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        self._acceptor.join(2.0)
        for worker in self._threads:
            worker.join(2.0)


# --- a network that ends at the loopback interface ----------------------------------------------


def _loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class LoopbackOnlyNetwork:
    """Installed with :meth:`install`: ``socket.getaddrinfo`` answers from ``names`` (a made-up
    name -> addresses table; ``localhost`` is 127.0.0.1) or parses numeric hosts locally, never
    asking a DNS server; ``socket.socket.connect`` refuses non-loopback addresses and records them
    in ``refused``; reverse lookups answer locally."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {"localhost": ["127.0.0.1"]}
        self.lookups: list[str] = []
        self.refused: list[str] = []
        self.connects: list[tuple[str, int]] = []
        self._real_getaddrinfo = socket.getaddrinfo
        self._real_connect = socket.socket.connect

    def getaddrinfo(
        self,
        host: Any,
        port: Any,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, ...]]:
        if host is None:
            return self._real_getaddrinfo(host, port, family, type, proto, flags)
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.lookups.append(name)
        addresses = self.names.get(name.lower().rstrip("."))
        if addresses is None:
            try:
                return self._real_getaddrinfo(
                    name, port, family, type, proto, flags | socket.AI_NUMERICHOST
                )
            except socket.gaierror:
                raise socket.gaierror(
                    socket.EAI_NONAME, f"{name}: unknown to the test resolver"
                ) from None
        numeric_port = int(port) if port not in (None, "") else 0
        infos: list[tuple[Any, ...]] = []
        for address in addresses:
            if ":" in address:
                infos.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, numeric_port, 0, 0))
                )
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, numeric_port)))
        return infos

    def install(self, monkeypatch: pytest.MonkeyPatch) -> LoopbackOnlyNetwork:
        network = self
        real_connect = self._real_connect

        def connect(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple):
                if not _loopback(address[0]):
                    network.refused.append(str(address[0]))
                    raise ConnectionRefusedError(f"test network refuses {address[0]}")
                network.connects.append((str(address[0]), int(address[1])))
            real_connect(sock, address)

        def gethostbyaddr(ip: str) -> tuple[str, list[str], list[str]]:
            if _loopback(ip):
                return "localhost", [], [ip]
            raise socket.herror(1, "unknown host (test resolver)")

        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket, "gethostbyaddr", gethostbyaddr)
        return self
