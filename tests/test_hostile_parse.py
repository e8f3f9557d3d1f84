"""Parsing one document is bounded in time and memory (issue 16): the ingest parses each fetched
document in a killable helper process (:class:`tasks.discover.isolate.IsolatedParser`); a parse
past its deadline or out of memory costs only that document, as a fetch row with a reason."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tasks.discover.discover import read_feeds
from tasks.discover.isolate import IsolatedParser, ParseAborted
from tasks.records import FetchOutcome
from tests.loopback import rss_feed

LINKS = ["http://news.example.test/a/1", "http://news.example.test/a/2"]


def forever() -> None:
    while True:
        time.sleep(1)


def hog() -> bytes:
    return b"x" * (4 << 30)  # 4 GB, over the helper's address-space limit


def fetched(url: str, body: bytes) -> FetchOutcome:
    return FetchOutcome(url, "feed", "ok", final_url=url, status_code=200, body=body)


@pytest.fixture
def parser() -> Iterator[IsolatedParser]:
    isolated = IsolatedParser(timeout=5.0, memory_mb=1024)
    yield isolated
    isolated.close()


def test_isolated_parser_stops_a_parse_past_its_deadline(parser: IsolatedParser) -> None:
    parser.timeout = 0.5
    with pytest.raises(ParseAborted) as excinfo:
        parser.call(forever)
    assert excinfo.value.reason == "parse_timeout"


def test_isolated_parser_out_of_memory_is_parse_crashed(parser: IsolatedParser) -> None:
    with pytest.raises(ParseAborted) as excinfo:
        parser.call(hog)
    assert excinfo.value.reason == "parse_crashed"
    assert "out of memory" in str(excinfo.value)


def test_isolated_parser_goes_on_with_a_fresh_process_after_a_kill(
    parser: IsolatedParser,
) -> None:
    parser.timeout = 0.5
    with pytest.raises(ParseAborted):
        parser.call(forever)
    parser.timeout = 30.0

    assert parser.call(sorted, [3, 1, 2]) == [1, 2, 3]


def test_read_feeds_isolated_parse_gives_the_same_items_and_reasons(
    parser: IsolatedParser,
) -> None:
    outcomes = [
        fetched("http://news.example.test/feed.xml", rss_feed("t", LINKS)),
        fetched("http://news.example.test/bad.xml", b"<html><body>not a feed</body></html>"),
    ]

    inline = read_feeds(outcomes, 10)
    isolated = read_feeds(outcomes, 10, parser=parser)

    assert isolated.items == inline.items
    assert [(o.reason, o.detail) for o in isolated.outcomes] == [
        (o.reason, o.detail) for o in inline.outcomes
    ]


def test_read_feeds_document_past_the_parse_deadline_costs_only_that_document(
    parser: IsolatedParser,
) -> None:
    parser.timeout = 0.0  # nothing parses in no time: every document is cut off
    outcomes = [fetched("http://news.example.test/feed.xml", rss_feed("t", LINKS))]

    result = read_feeds(outcomes, 10, parser=parser)

    assert [o.reason for o in result.outcomes] == ["parse_timeout"]
    assert result.errors == ["http://news.example.test/feed.xml: parse_timeout"]
    assert result.items == []
