"""A real HTTP server on 127.0.0.1 for tests: routes map a path to a response or a fault."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})
    delay: float = 0.0


Handler = Callable[[BaseHTTPRequestHandler], None]


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a reset keep-alive connection, a body it stopped reading) is not
    a server error: no traceback for it on stderr, where CLI tests look for tracebacks."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    """Serve ``routes`` (path -> :class:`Route` or a handler function) until closed."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.hits: list[str] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms stalls)

            def do_GET(self) -> None:
                server.hits.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self._send(Route(b"not found", 404, {"Content-Type": "text/plain"}))
                elif callable(route):
                    route(self)
                else:
                    time.sleep(route.delay)
                    self._send(route)

            def _send(self, route: Route) -> None:
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = QuietServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass(frozen=True)
class CorpusPage:
    """A real page from the shared corpus and its ground truth."""

    html: Path
    expected: dict[str, object]

    @property
    def path(self) -> str:
        """Where the loopback server serves it: the original host and path, under one origin."""
        parts = urlsplit(str(self.expected["url"]))
        return f"/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def corpus_pages(corpus: Path, names: list[str]) -> list[CorpusPage]:
    """Pages of ``corpus/web/pages`` by expected-file stem (``host/stem``)."""
    pages = []
    for name in names:
        expected = corpus / "web" / "pages" / f"{name}.expected.json"
        pages.append(
            CorpusPage(
                expected.with_name(expected.name.replace(".expected.json", ".html")),
                json.loads(expected.read_text(encoding="utf-8")),
            )
        )
    return pages


def rss_feed(title: str, links: list[str]) -> bytes:
    """An RSS 2.0 document we write ourselves, listing ``links``."""
    now = format_datetime(datetime(2026, 11, 1, tzinfo=UTC))
    items = "".join(
        f"<item><title>Item {i}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>{now}</pubDate></item>"
        for i, link in enumerate(links)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}'
        f"</title><link>http://example.invalid/</link><description>test</description>{items}"
        "</channel></rss>"
    ).encode()


def atom_feed(title: str, links: list[str]) -> bytes:
    """An Atom 1.0 document we write ourselves, listing ``links``."""
    entries = "".join(
        f'<entry><title>Entry {i}</title><link rel="alternate" href="{escape(link)}"/>'
        f"<id>urn:test:{i}</id><updated>2026-11-01T00:00:00Z</updated></entry>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>2026-11-01T00:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def serve_pages(server: LoopbackServer, pages: list[CorpusPage]) -> Iterator[str]:
    for page in pages:
        server.routes[page.path] = Route(page.html.read_bytes())
        yield server.url(page.path)
