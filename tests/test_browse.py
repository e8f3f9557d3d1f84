"""``newsflow browse``: Datasette over the database, asked through its own ASGI client (no
server): search wired to ``articles_fts``, facets, the article page, the README's questions as
canned queries, the chart; nothing can write to the file; PostgreSQL is served as a snapshot."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from datasette.app import Datasette
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import flows.browse
from flows.browse import build
from flows.cli import app
from storage.engine import dispose_engines
from storage.migrate import upgrade
from tests.analytics_data import Newsroom, fill
from tests.browsing import browsing
from tests.test_readme_queries import COLUMNS
from tests.test_search import FILLER, art, store
from tests.test_search_cjk import BEIJING, TOKYO

# The snippet search's SQL before CJK terms (word index only): English queries must find the same.
WORDS_ONLY = """WITH top AS (
  SELECT rowid, bm25(articles_fts, 10.0, 1.0) AS score FROM articles_fts
  WHERE :q <> '' AND articles_fts MATCH escape_fts(:q)
  ORDER BY score LIMIT 100
)
SELECT a.id AS article_id, a.title, s.name AS source, a.published_at, a.language,
       snippet(articles_fts, 1, '[', ']', '…', 24) AS snippet
FROM top
JOIN articles_fts ON articles_fts.rowid = top.rowid
JOIN articles a ON a.id = top.rowid
JOIN sources s ON s.id = a.source_id
WHERE :q <> '' AND articles_fts MATCH escape_fts(:q)
ORDER BY top.score"""


@pytest.fixture
def filled(sqlite_url: str) -> tuple[Path, Newsroom]:
    upgrade(sqlite_url)
    room = fill(sqlite_url)
    dispose_engines()  # the WAL checkpointed: the file alone holds every row
    return Path(make_url(sqlite_url).database or ""), room


def store_asia(db_url: str) -> None:
    """A Chinese and a Japanese article, and an English one that names Beijing in Chinese."""
    store(
        db_url,
        "asia",
        art("https://a.example/zh", BEIJING, "新闻发布会", language="zh"),
        art("https://a.example/ja", TOKYO, "記者会見", language="ja"),
        art(
            "https://a.example/en",
            f"{FILLER} The train to Beijing (北京) left.",
            "Train to Beijing",
        ),
    )


@pytest.fixture
def asia(filled: tuple[Path, Newsroom]) -> Datasette:
    """Datasette over the newsroom with CJK articles added."""
    path = filled[0]
    store_asia(f"sqlite:///{path}")
    dispose_engines()
    return build(path, immutable=False)


def search(datasette: Datasette, query: str) -> list[dict[str, Any]]:
    """The snippet search's hits for ``query``, through the canned query's JSON."""
    response = get(datasette, "/newsflow/search.json?" + urlencode({"q": query, "_shape": "array"}))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def get(datasette: Datasette, path: str) -> httpx.Response:
    async def ask() -> httpx.Response:
        return await datasette.client.get(path)  # type: ignore[no-any-return]

    return asyncio.run(ask())


def rows(datasette: Datasette, path: str) -> list[dict[str, Any]]:
    response = get(datasette, path)
    assert response.status_code == 200, response.text
    return response.json()["rows"]  # type: ignore[no-any-return]


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_browse_search_uses_the_articles_fts_index(filled: tuple[Path, Newsroom]) -> None:
    datasette = build(filled[0], immutable=False)

    found = rows(datasette, "/newsflow/v_articles.json?_search=ferry&_shape=objects")

    assert [r["title"] for r in found] == ["Ferry timetable"]


def test_browse_facets_count_articles_by_source_language_day_and_cluster(
    filled: tuple[Path, Newsroom],
) -> None:
    path, room = filled
    response = get(build(path, immutable=False), "/newsflow/v_articles.json")

    facets = response.json()["facet_results"]
    assert set(facets) == {"source", "language", "published_at", "cluster_id"}
    counts = {r["value"]: r["count"] for r in facets["source"]["results"]}
    assert counts == room.articles
    languages = {r["value"]: r["count"] for r in facets["language"]["results"]}
    assert languages["de"] == 2 and sum(languages.values()) == sum(room.articles.values())
    assert facets["published_at"]["type"] == "date"
    (top, *_) = facets["cluster_id"]["results"]
    assert top["count"] == 2  # the harbour story: an article and its near-copy


def test_browse_search_query_ranks_and_marks_the_matched_words(
    filled: tuple[Path, Newsroom],
) -> None:
    datasette = build(filled[0], immutable=False)

    found = rows(datasette, "/newsflow/search.json?q=timetable+recount&_shape=objects")
    nothing = rows(datasette, "/newsflow/search.json?q=&_shape=objects")
    odd = rows(
        datasette, "/newsflow/search.json?" + urlencode({"q": 'ferry" OR -"', "_shape": "objects"})
    )

    assert [r["title"] for r in found] == ["Ferry timetable"]
    assert found[0]["snippet"].startswith("[Recount] a minister")
    assert nothing == [] and odd == []  # quotes and operators are words, never FTS5 syntax


def test_browse_search_query_finds_chinese_words_of_two_characters(asia: Datasette) -> None:
    found = search(asia, "北京")

    assert {r["title"] for r in found} == {"新闻发布会", "Train to Beijing"}
    snippets = {r["title"]: r["snippet"] for r in found}
    assert snippets["新闻发布会"] == "[北京]市今天举行新闻发布会，介绍了经济发展情况。"
    assert (
        snippets["Train to Beijing"] == "…e train to Beijing ([北京]) left."
    )  # 20 characters before
    assert [r["title"] for r in search(asia, "京市")] == ["新闻发布会"]
    assert search(asia, "京北") == []


def test_browse_search_query_finds_chinese_words_of_three_characters_or_more(
    asia: Datasette,
) -> None:
    (city,) = search(asia, "北京市")
    (economy,) = search(asia, "经济发展")
    (title,) = search(asia, "新闻发布会")

    assert city["title"] == "新闻发布会" and city["snippet"].startswith("[北京市]今天")
    assert economy["snippet"] == "北京市今天举行新闻发布会，介绍了[经济发展]情况。"
    assert title["source"] == "asia" and title["language"] == "zh"
    assert search(asia, "北京市政府") == []


def test_browse_search_query_finds_japanese_kana_and_kanji(asia: Datasette) -> None:
    for word in ("ニュース", "ひらがな", "カタカナ", "東京", "記者会見"):
        found = search(asia, word)
        assert [r["title"] for r in found] == ["記者会見"], word
        assert f"[{word}]" in found[0]["snippet"], word


def test_browse_search_query_needs_every_term_of_a_cjk_query(asia: Datasette) -> None:
    (train,) = search(asia, "TRAIN 北京")

    assert train["title"] == "Train to Beijing" and "[train]" in train["snippet"]
    assert [r["title"] for r in search(asia, "東京　ニュース")] == ["記者会見"]  # ideographic space
    assert search(asia, "東京 北京") == []


def test_browse_search_query_ranks_a_cjk_title_match_first(filled: tuple[Path, Newsroom]) -> None:
    path = filled[0]
    store(
        f"sqlite:///{path}",
        "asia",
        art("https://a.example/body", "今天天气很好。新闻发布会在下午。", "天气", language="zh"),
        art("https://a.example/title", "今天天气很好。会议在下午。", "新闻发布会", language="zh"),
    )
    dispose_engines()
    datasette = build(path, immutable=False)

    for query in ("新闻发布会", "新闻", "下午 新闻"):
        assert [r["title"] for r in search(datasette, query)] == ["新闻发布会", "天气"], query
    (only,) = search(datasette, "会议")
    assert only["snippet"] == "今天天气很好。[会议]在下午。"


def test_browse_search_query_finds_english_words_as_before(asia: Datasette) -> None:
    for query in ("ferry", "timetable recount", "weather", "Beijing", 'ferry" OR -"', ""):
        params = urlencode({"sql": WORDS_ONLY, "q": query, "_shape": "array"})
        before = get(asia, f"/newsflow.json?{params}").json()
        assert search(asia, query) == before, query
    assert [r["title"] for r in search(asia, "beijing")] == ["Train to Beijing"]


def test_browse_search_query_answers_a_blank_query_with_nothing(asia: Datasette) -> None:
    for query in (" ", "\u3000", '""', "「」"):
        assert search(asia, query) == [], query


def test_browse_titles_link_to_the_article_page(filled: tuple[Path, Newsroom]) -> None:
    datasette = build(filled[0], immutable=False)
    (ferry,) = rows(datasette, "/newsflow/v_articles.json?_search=ferry&_shape=objects")

    html = get(datasette, "/newsflow/v_articles?_search=ferry").text

    assert f'<a href="/article/{ferry["article_id"]}">Ferry timetable</a>' in html
    stories = get(datasette, "/newsflow/q2").text  # the story column opens its first article
    assert f'<a href="/article/{ferry["cluster_id"]}">Ferry timetable</a>' in stories


def test_browse_article_page_shows_text_metadata_urls_story_and_revisions(
    filled: tuple[Path, Newsroom],
) -> None:
    path, room = filled
    datasette = build(path, immutable=False)
    (ferry,) = rows(datasette, "/newsflow/v_articles.json?_search=ferry&_shape=objects")
    (storm,) = rows(datasette, "/newsflow/v_articles.json?title=Storm+hits+coast&_shape=objects")

    page = get(datasette, f"/article/{ferry['article_id']}")
    revised = get(datasette, f"/article/{storm['article_id']}").text

    assert page.status_code == 200
    html = page.text
    assert '<h1 class="article-title">Ferry timetable</h1>' in html
    assert "Jane Doe" in html and "Politics" in html and "bbc-world" in html
    assert room.copy_url in html and "guardian-world" in html  # the exact copy and its source
    assert "Story (2 sources)" in html
    assert "Earlier revisions (1)" in revised
    assert get(datasette, "/article/999999").status_code == 404


def test_browse_canned_queries_are_the_readme_questions(filled: tuple[Path, Newsroom]) -> None:
    datasette = build(filled[0], immutable=False)

    for ident, columns in COLUMNS.items():
        response = get(datasette, f"/newsflow/{ident}.json?_shape=objects")
        assert response.status_code == 200, (ident, response.text)
        found = response.json()["rows"]
        assert found, ident
        assert tuple(found[0]) == columns, ident
    listed = get(datasette, "/newsflow.json").json()["queries"]
    assert [q["name"] for q in listed] == ["search", *COLUMNS]
    assert listed[1]["title"] == "1. How many articles did each source publish per day?"


def test_browse_charts_articles_per_day_per_source(filled: tuple[Path, Newsroom]) -> None:
    path, room = filled
    datasette = build(path, immutable=False)

    page = get(datasette, "/-/dashboards/news")
    sql = datasette.plugin_config("datasette-dashboards")["news"]["charts"]["per-day"]["query"]
    data = rows(datasette, "/newsflow.json?" + urlencode({"sql": sql, "_shape": "objects"}))

    assert page.status_code == 200 and "vega-lite.min.js" in page.text
    assert sum(r["articles"] for r in data) == sum(room.articles.values())
    assert {r["source"] for r in data} == set(room.articles)


def test_browse_never_writes_the_database(filled: tuple[Path, Newsroom]) -> None:
    path, room = filled
    before = fingerprint(path)
    datasette = build(path, immutable=False)
    database = datasette.get_database("newsflow")

    rejected = get(datasette, "/newsflow.json?sql=DELETE+FROM+articles")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(database.execute_write("DELETE FROM articles"))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(database.execute_write("PRAGMA user_version = 7"))
    listed = rows(datasette, "/newsflow/articles.json")
    database.close()

    assert rejected.status_code == 400
    assert len(listed) == sum(room.articles.values())
    assert fingerprint(path) == before


def test_browse_shows_what_an_ingest_writes_meanwhile(filled: tuple[Path, Newsroom]) -> None:
    path, _room = filled
    datasette = build(path, immutable=False)
    before = rows(datasette, "/newsflow/v_articles.json?_search=ferry&_shape=objects")
    with closing(sqlite3.connect(path)) as writer, writer:
        writer.execute(
            "UPDATE articles SET title = 'Ferry timetable changed' WHERE title LIKE 'Ferry%'"
        )

    after = rows(datasette, "/newsflow/v_articles.json?_search=ferry&_shape=objects")

    assert [r["title"] for r in before] == ["Ferry timetable"]
    assert [r["title"] for r in after] == ["Ferry timetable changed"]


def test_browse_listens_on_loopback_by_default(
    filled: tuple[Path, Newsroom], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(flows.browse, "serve", lambda _ds, host, port: served.append((host, port)))

    result = CliRunner().invoke(app, ["browse", "--db", str(filled[0])])

    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 8001)]
    assert "http://127.0.0.1:8001/" in result.output


def test_browse_refuses_a_missing_or_outdated_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    outdated = tmp_path / "old.db"
    upgrade(f"sqlite:///{outdated}", "0012")
    dispose_engines()

    gone = CliRunner().invoke(app, ["browse", "--db", str(missing)])
    old = CliRunner().invoke(app, ["browse", "--db", str(outdated)])

    assert gone.exit_code == 2 and "no database" in gone.output
    assert not missing.exists()
    assert old.exit_code == 2 and "db upgrade" in old.output


@pytest.mark.slow
def test_browse_serves_postgresql_as_a_snapshot_deleted_at_exit(
    pg_url: str, tmp_path: Path
) -> None:
    upgrade(pg_url)
    room = fill(pg_url)
    store_asia(pg_url)
    dispose_engines()

    with browsing(["--db", pg_url], tmp_path) as browse:
        search = "/newsflow/v_articles.json?_search=ferry&_shape=objects"
        found = httpx.get(browse.base + search).json()
        listed = httpx.get(browse.base + "/newsflow/articles.json?_size=max").json()["rows"]
        count = "/newsflow.json?sql=SELECT+count(*)+AS+n+FROM+minhash_bands&_shape=array"
        bands = httpx.get(browse.base + count).json()
        chinese = [
            httpx.get(browse.base + "/newsflow/search.json", params={"q": q, "_shape": "array"})
            for q in ("北京", "经济发展")
        ]
        output = browse.stop()

    assert [r["title"] for r in found["rows"]] == ["Ferry timetable"]
    assert len(listed) == sum(room.articles.values()) + 3
    assert {r["title"] for r in chinese[0].json()} == {"新闻发布会", "Train to Beijing"}
    assert [r["title"] for r in chinese[1].json()] == ["新闻发布会"]  # the trigram index
    assert bands == [{"n": 0}]  # hidden bulk left out of the snapshot
    snapshot = Path(re.findall(r"copied to the snapshot (\S+)", output)[0])
    assert not snapshot.parent.exists(), output
