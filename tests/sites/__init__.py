"""Small news sites written by hand for the source tools' tests (never corpus files): each folder
is served as it is by :func:`serve_site`, with ``@BASE@`` replaced by the server's origin."""

from __future__ import annotations

from pathlib import Path

from tests.loopback import LoopbackServer, Route

SITES = Path(__file__).resolve().parent
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain",
}
FEED_TYPES = {"feed.xml": "application/rss+xml", "atom.xml": "application/atom+xml"}


def serve_site(server: LoopbackServer, name: str, prefix: str = "") -> str:
    """Serve ``tests/sites/<name>`` under ``prefix`` on ``server``; ``index.html`` also at the
    folder's root. Returns the site's base URL."""
    base = server.url(prefix)
    folder = SITES / name
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in TYPES:
            continue
        body = path.read_bytes().replace(b"@BASE@", base.encode())
        content_type = FEED_TYPES.get(path.name, TYPES[path.suffix])
        route = Route(body, headers={"Content-Type": content_type})
        relative = path.relative_to(folder).as_posix()
        server.routes[f"{prefix}/{relative}"] = route
        if relative == "index.html":
            server.routes[f"{prefix}/"] = route
    return base
