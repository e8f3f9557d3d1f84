"""``newsflow browse`` seen in a real browser: two hand-written news sites (tests/sites) are
ingested by ``newsflow ingest`` over loopback, ``newsflow browse`` serves the database, and headless
Chromium renders the search page, an article's page and the chart; the checks read the text a
person would see. The database file is not changed by any of it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pytest

from tests.browsing import NEWSFLOW, browsing
from tests.loopback import LoopbackServer
from tests.sites import serve_site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HARBOUR = "Harbour bridge reopens after repairs"
HARBOUR_TEXT = "The old swing bridge over the harbour opened to traffic again on Monday morning"

SOURCES_STORED = """SELECT s.name, count(*) FROM articles a JOIN sources s ON s.id = a.source_id
GROUP BY s.name"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    reason = "no Chromium at /usr/bin/chromium (apt-get install chromium): needed to render pages"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def render(chromium: str, url: str, wait_ms: int = 0) -> lxml.html.HtmlElement:
    """The page at ``url`` as headless Chromium rendered it (scripts run, ``wait_ms`` of virtual
    time for the ones that fetch data)."""
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    args.append("--dump-dom")
    if wait_ms:
        args.append(f"--virtual-time-budget={wait_ms}")
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-2000:]
    return lxml.html.fromstring(done.stdout)


def seen(element: lxml.html.HtmlElement) -> str:
    """The element's text with its whitespace collapsed, as it reads on the screen."""
    return " ".join(element.text_content().split())


def css(name: str) -> str:
    """An XPath test for an element of CSS class ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def facet(page: lxml.html.HtmlElement, column: str) -> dict[str, int]:
    """The facet ``column`` as shown: each value with its count."""
    (box,) = page.xpath(f"//*[@id='facet-{column}']")
    counts = {}
    for item in box.xpath(".//li"):
        value, count = seen(item).rsplit(" ", 1)
        counts[value] = int(count)
    return counts


@pytest.fixture
def ingested(server: LoopbackServer, tmp_path: Path) -> Path:
    """Example News (3 English articles, RSS) and Tagesblick (2 German ones, Atom), ingested by
    ``newsflow ingest`` into a new SQLite file."""
    english = serve_site(server, "example-news", "/en")
    german = serve_site(server, "tagesblick", "/de")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - name: example-news\n    feeds: [{english}/feed.xml]\n    interval: 600\n"
        f"  - name: tagesblick\n    feeds: [{german}/atom.xml]\n    interval: 600\n",
        encoding="utf-8",
    )
    path = tmp_path / "newsflow.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSFLOW_", "PREFECT_API"))}
    env |= {
        "NEWSFLOW_DATABASE_URL": f"sqlite:///{path}",
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "NEWSFLOW_FETCH_DELAY": "0",
    }

    done = subprocess.run(
        [str(NEWSFLOW), "ingest", "--sources", str(sources)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        stored = dict(db.execute(SOURCES_STORED).fetchall())
    assert stored == {"example-news": 3, "tagesblick": 2}, done.stdout
    return path


def test_browse_in_chromium_search_article_and_chart(
    ingested: Path, chromium: str, tmp_path: Path
) -> None:
    before = hashlib.sha256(ingested.read_bytes()).hexdigest(), ingested.stat().st_mtime_ns

    with browsing(["--db", str(ingested)], tmp_path) as browse:
        listing = render(chromium, f"{browse.base}/newsflow/v_articles")
        search = render(chromium, f"{browse.base}/newsflow/v_articles?_search={quote('swing')}")
        (title,) = search.xpath(f"//td[{css('col-title')}]/a")
        article = render(chromium, browse.base + title.get("href"))
        chart = render(chromium, f"{browse.base}/-/dashboards/news", wait_ms=10_000)

    assert facet(listing, "source") == {"example-news": 3, "tagesblick": 2}
    assert facet(listing, "language") == {"en": 3, "de": 2}
    days = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"]  # UTC
    assert facet(listing, "published_at") == dict.fromkeys(days, 1)
    assert sorted(facet(listing, "cluster_id").values()) == [1] * 5  # five stories
    assert "5 rows" in seen(listing)
    assert '1 row where search matches "swing"' in seen(search)
    assert seen(title) == HARBOUR
    assert facet(search, "source") == {"example-news": 1}
    assert re.fullmatch(r"/article/\d+", title.get("href") or "")
    assert seen(article.xpath("//h1")[0]) == HARBOUR
    body = seen(article.xpath(f"//*[{css('article-text')}]")[0])
    assert body.startswith(HARBOUR_TEXT)
    assert "Maria Lindqvist" in seen(article.xpath(f"//*[{css('article-authors')}]")[0])
    urls = seen(article.xpath(f"//*[{css('article-urls')}]")[0])
    assert "/en/articles/harbour-bridge.html" in urls
    drawn = chart.xpath("//*[@id='chart-per-day']//*[local-name()='canvas' or local-name()='svg']")
    assert drawn, "no chart drawn"
    after = hashlib.sha256(ingested.read_bytes()).hexdigest(), ingested.stat().st_mtime_ns
    assert after == before
