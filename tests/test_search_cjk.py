"""Full-text search in Chinese, Japanese and Korean on SQLite (FTS5 trigram index ``articles_cjk``,
``instr`` for shorter terms) and on the real PostgreSQL (bigrams through ``newsflow_search_text``),
migration 0015; and PostgreSQL snippets that show terms far apart."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, event, text, update

from storage import cjk
from storage.engine import get_engine, transaction
from storage.migrate import alembic_config, upgrade
from storage.models import Article
from storage.search import MARK_END, MARK_START, search
from storage.search_pg import disjunction, without_exclusions
from storage.search_query import pg_websearch
from tests.test_search import FILLER, art, article_id, filler, migration, store

BEIJING = "北京市今天举行新闻发布会，介绍了经济发展情况。"
TOKYO = "東京都は今日記者会見を開いた。ニュースはひらがなとカタカナで書かれている。"
SEOUL = "서울시는 오늘 기자회견을 열었다."


def marked(word: str) -> str:
    return f"{MARK_START}{word}{MARK_END}"


def urls(db_url: str, query: str, **filters: Any) -> list[str]:
    return [hit.url for hit in search(db_url, query, **filters)]


@pytest.fixture
def asia(migrated_db: str) -> str:
    """English filler, a Chinese, a Japanese and a Korean article, and an English one that names
    Beijing in Chinese."""
    filler(migrated_db)
    store(
        migrated_db,
        "asia",
        art("https://a.example/zh", BEIJING, "新闻发布会", language="zh"),
        art("https://a.example/ja", TOKYO, "記者会見", language="ja"),
        art("https://a.example/ko", SEOUL, "기자회견", language="ko"),
        art(
            "https://a.example/en",
            f"{FILLER} The ferry to Beijing (北京) left at noon.",
            "Ferry",
            published_at=datetime(2026, 10, 1, tzinfo=UTC),
        ),
    )
    return migrated_db


def test_search_cjk_finds_a_chinese_word_of_two_characters(asia: str) -> None:
    hits = search(asia, "北京")
    assert {h.url for h in hits} == {"https://a.example/zh", "https://a.example/en"}
    assert all(marked("北京") in h.snippet for h in hits)


def test_search_cjk_finds_longer_chinese_words(asia: str) -> None:
    (hit,) = search(asia, "经济发展")
    assert hit.url == "https://a.example/zh" and marked("经济发展") in hit.snippet
    assert urls(asia, "北京市") == ["https://a.example/zh"]


def test_search_cjk_finds_japanese_kanji_and_kana(asia: str) -> None:
    for word in ("東京", "記者会見", "ニュース", "ひらがな", "カタカナ", "東京都は今日"):
        hits = search(asia, word)
        assert [h.url for h in hits] == ["https://a.example/ja"], word
        assert marked(word) in hits[0].snippet, word


def test_search_cjk_finds_korean_words(asia: str) -> None:
    assert urls(asia, "서울") == ["https://a.example/ko"]
    assert urls(asia, "기자회견") == ["https://a.example/ko"]


def test_search_cjk_finds_one_character(asia: str) -> None:
    hits = search(asia, "京")
    assert {h.url for h in hits} == {
        "https://a.example/zh",
        "https://a.example/ja",
        "https://a.example/en",
    }
    assert all(marked("京") in h.snippet for h in hits)


def test_search_cjk_needs_the_characters_next_to_each_other(migrated_db: str) -> None:
    store(migrated_db, "asia", art("https://a.example/apart", "北方的京剧在市场演出。", "京剧"))
    assert search(migrated_db, "北京") == []
    assert search(migrated_db, "京市") == []
    assert urls(migrated_db, "京剧") == ["https://a.example/apart"]


def test_search_cjk_ranks_a_title_match_first(migrated_db: str) -> None:
    store(
        migrated_db,
        "asia",
        art("https://a.example/body", "今天天气很好。新闻发布会在下午。", "天气", language="zh"),
        art("https://a.example/title", "今天天气很好。会议在下午。", "新闻发布会", language="zh"),
    )
    assert urls(migrated_db, "新闻发布会") == ["https://a.example/title", "https://a.example/body"]
    assert urls(migrated_db, "新闻") == ["https://a.example/title", "https://a.example/body"]


def test_search_cjk_reads_exclusions_and_alternatives(asia: str) -> None:
    assert urls(asia, "北京 -发布会") == ["https://a.example/en"]
    assert urls(asia, "北京 -新闻") == ["https://a.example/en"]  # a two-character exclusion
    assert urls(asia, "发布会 -ferry") == ["https://a.example/zh"]
    assert set(urls(asia, "東京 or 서울")) == {"https://a.example/ja", "https://a.example/ko"}
    assert urls(asia, '"新闻发布会"') == ["https://a.example/zh"]


def test_search_cjk_mixes_with_latin_words(asia: str) -> None:
    (hit,) = search(asia, "ferry 北京")
    assert hit.url == "https://a.example/en"
    assert marked("北京") in hit.snippet and marked("ferry") in hit.snippet.lower()
    store(asia, "asia", art("https://a.example/mixed", "运动员在Olympics上获得金牌。", "金牌"))
    assert urls(asia, "olympics 金牌") == ["https://a.example/mixed"]


def test_search_cjk_keeps_the_filters(asia: str) -> None:
    assert urls(asia, "北京", lang="zh") == ["https://a.example/zh"]
    assert urls(asia, "北京", until=date(2026, 10, 15)) == ["https://a.example/en"]
    assert urls(asia, "北京", since=date(2026, 10, 15)) == ["https://a.example/zh"]
    assert urls(asia, "北京", source="other") == []


def test_search_cjk_follows_updates_and_deletes(asia: str) -> None:
    zh = article_id(asia, "https://a.example/zh")
    with transaction(asia) as session:
        session.execute(update(Article).where(Article.id == zh).values(text="上海今天下雨。"))
    assert urls(asia, "北京") == ["https://a.example/en"]
    assert urls(asia, "上海") == ["https://a.example/zh"] == urls(asia, "今天下雨")
    with transaction(asia) as session:  # no longer CJK: out of the CJK index
        session.execute(update(Article).where(Article.id == zh).values(text=f"{FILLER} Rain."))
    assert search(asia, "上海") == [] and urls(asia, "rain") == ["https://a.example/zh"]
    with transaction(asia) as session:
        session.execute(delete(Article).where(Article.url == "https://a.example/ja"))
    assert search(asia, "東京") == [] and search(asia, "東京都は今日") == []


def test_search_cjk_terms_never_raise(asia: str) -> None:
    for query in ("北", "\u3000", "「」", "北京" * 300, "-北京", "北京 or", '"北京', "𠀀𠀁"):
        assert len(search(asia, query)) <= 4, query


def test_migration_0015_indexes_articles_stored_before_and_downgrades(db_url: str) -> None:
    upgrade(db_url, "0013")
    store(db_url, "asia", art("https://a.example/zh", BEIJING, "发布会", language="zh"))
    assert search(db_url, "北京") == []  # the word indexes of 0005 hold whole clauses

    upgrade(db_url)
    assert urls(db_url, "北京") == ["https://a.example/zh"]
    assert urls(db_url, "新闻发布会") == ["https://a.example/zh"]

    command.downgrade(alembic_config(db_url), "0013")
    filler(db_url)
    assert search(db_url, "北京") == [] and len(search(db_url, "weather")) == 6
    upgrade(db_url)
    assert urls(db_url, "北京") == ["https://a.example/zh"]


def captured(db_url: str, query: str, marker: str) -> tuple[str, Any]:
    """The search statement that holds ``marker``, with its parameters."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if marker in statement:
            statements.append((statement, parameters))

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        search(db_url, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements[0]


def test_search_cjk_sqlite_scans_only_the_cjk_rows_for_short_terms(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    store(sqlite_url, "asia", art("https://a.example/zh", BEIJING, language="zh"))
    statement, parameters = captured(sqlite_url, "北京", "instr")
    with get_engine(sqlite_url).connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    assert any("ix_articles_cjk" in str(row) for row in plan), plan


def test_search_cjk_postgresql_uses_the_gin_index(pg_url: str) -> None:
    upgrade(pg_url)
    store(pg_url, "asia", art("https://a.example/zh", BEIJING, language="zh"))
    statement, parameters = captured(pg_url, "京", "@@")
    with get_engine(pg_url).connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
    assert any("ix_articles_search_vector" in line for line in plan), plan


def test_search_cjk_postgresql_indexes_a_long_article(pg_url: str) -> None:
    """Bigrams of every CJK character would overflow a tsvector (1 MB) in a long text of rare
    characters: the first 50,000 characters are indexed, and the article is stored."""
    upgrade(pg_url)
    shuffled = random.Random(15)
    noise = "".join(chr(shuffled.randrange(0x4E00, 0x9FA5)) for _ in range(60_000))
    body = "北京" + noise[:49_000] + "上海" + noise[49_000:] + "广州"
    store(pg_url, "asia", art("https://a.example/long", body, language="zh"))
    assert urls(pg_url, "北京") == ["https://a.example/long"] == urls(pg_url, "上海")
    assert search(pg_url, "广州") == []


def test_search_postgresql_snippet_shows_terms_far_apart(pg_url: str) -> None:
    upgrade(pg_url)
    body = f"The ferry was new. {FILLER * 40} At noon the harbour closed."
    store(pg_url, "news", art("https://n.example/far", body, "Harbour"))
    (hit,) = search(pg_url, "ferry noon -storm")
    assert marked("ferry") in hit.snippet and marked("noon") in hit.snippet


def test_search_text_postgresql_writes_bigrams_as_the_query_side_does(pg_url: str) -> None:
    upgrade(pg_url)
    samples = [BEIJING, TOKYO, SEOUL, "Olympics在北京 東京都x京", "京", "𠀀𠀁a", "no CJK at all"]
    with get_engine(pg_url).connect() as connection:
        for sample in samples:
            written = connection.execute(text("SELECT newsflow_search_text(:s)"), {"s": sample})
            assert written.scalar_one() == " ".join(cjk.bigrams(sample)), sample


def test_pg_websearch_writes_cjk_terms_as_bigram_phrases() -> None:
    assert pg_websearch("北京市") == '"北京 京市"'
    assert pg_websearch('ferry -東京 or "北京 上海" 京') == (
        'ferry -"東京" or "北京 京   上海" "京"'
    )
    assert cjk.prefix_single("'京' & '北京' & 'x':*") == "'京':* & '北京' & 'x':*"


def test_without_exclusions_keeps_the_rest_of_the_query() -> None:
    assert without_exclusions("'ferri' & !'late' | 'boat'") == "'ferri' | 'boat'"
    assert without_exclusions("'a' & 'b' | !'c' & 'd'") == "'a' & 'b' | 'd'"
    assert without_exclusions("!'c' & 'd' <-> 'e'") == "'d' <-> 'e'"
    assert without_exclusions("'a' & 'b'") == "'a' & 'b'"


def test_search_postgresql_ranks_a_query_with_an_exclusion(pg_url: str) -> None:
    upgrade(pg_url)
    filler(pg_url)
    store(
        pg_url,
        "news",
        art("https://n.example/body", f"{FILLER} The ferry left at noon.", "Harbour timetable"),
        art("https://n.example/title", f"{FILLER} Boats left at noon.", "Ferry timetable"),
        art("https://n.example/storm", f"{FILLER} The ferry stayed in: storm.", "Storm"),
    )
    hits = search(pg_url, "ferry -storm")
    assert [h.url for h in hits] == ["https://n.example/title", "https://n.example/body"]
    assert hits[0].rank > hits[1].rank > 0.001


def test_disjunction_keeps_positive_parts_and_phrases() -> None:
    assert disjunction("'ferri' & 'noon' & !'late'") == "'ferri' | 'noon'"
    assert disjunction("'new' <-> 'ferri' | !( 'a' & 'b' ) & 'x'") == "'new' <-> 'ferri' | 'x'"
    assert disjunction("'it''s' & 'o'") == "'it''s' | 'o'"


def test_marked_snippet_cuts_around_the_first_term() -> None:
    body = "甲" * 200 + "北京市" + "乙" * 200
    snippet = cjk.marked_snippet(body, ["北京"], "[", "]")
    assert snippet.startswith("…") and snippet.endswith("…") and "[北京]市" in snippet
    assert len(snippet) <= cjk.SNIPPET_CHARS + 4
    assert cjk.marked_snippet("no match here", ["北京"], "[", "]") == "no match here"


def test_sqlite_cjk_pattern_finds_the_scripts(sqlite_url: str) -> None:
    samples = {"北京": 1, "ニュース": 1, "ひらがな": 1, "서울": 1, "𠀀": 1, "Zürich": 0, "「」": 0}
    with get_engine(sqlite_url).connect() as connection:
        for sample, expected in samples.items():
            found = connection.execute(
                text("SELECT :s GLOB :p"), {"s": sample, "p": cjk.SQLITE_PATTERN}
            )
            assert (found.scalar_one(), cjk.has_cjk(sample)) == (expected, bool(expected)), sample


def test_cjk_ranges_match_the_migration() -> None:
    module = migration("0015_cjk_search.py")
    assert module.RANGES == cjk.RANGES
    assert module.SQLITE_PATTERN == cjk.SQLITE_PATTERN
    assert module._sqlite_row() == cjk.sqlite_cjk_row()
