"""A real forward HTTP proxy on 127.0.0.1 for tests: it answers absolute-URI ``GET`` requests
(``GET http://host:port/path HTTP/1.1``) by fetching the URL itself, and ``CONNECT host:port``
with a tunnel; it logs each URL (or ``host:port``) it was asked for, and marks what it relays
with ``Via: 1.1 newsflow-test-proxy``."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

VIA = "1.1 newsflow-test-proxy"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te"}


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes between the two sockets until either side closes."""
    with upstream:
        sockets = [client, upstream]
        while True:
            ready, _, _ = select.select(sockets, [], [], 10)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)


class ForwardProxy:
    """Relay absolute-URI GETs until closed; ``requested`` lists the URLs asked for, in order."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.requested.append(self.path)
                parts = urlsplit(self.path)
                if parts.scheme != "http" or not parts.hostname:  # not a proxy request
                    self._reply(400, [], b"absolute http URI expected")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Via"] = VIA
                target = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
                try:
                    path = parts.path + (f"?{parts.query}" if parts.query else "")
                    target.request("GET", path or "/", headers=headers)
                    answer = target.getresponse()
                    body = answer.read()
                    kept = [
                        (k, v)
                        for k, v in answer.getheaders()
                        if k.lower() not in _HOP_BY_HOP | {"content-length"}
                    ]
                    self._reply(answer.status, kept, body)
                finally:
                    target.close()

            def do_CONNECT(self) -> None:
                """A tunnel to ``host:port`` (HTTPS through the proxy): bytes relayed both ways."""
                proxy.requested.append(self.path)
                host, _, port = self.path.rpartition(":")
                try:
                    upstream = socket.create_connection((host, int(port)), timeout=10)
                except (OSError, ValueError):
                    self._reply(502, [], b"cannot reach the target")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                _relay(self.connection, upstream)
                self.close_connection = True

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Via", VIA)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
