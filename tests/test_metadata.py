"""Metadata normalization: titles, authors, dates (with their source) and language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.extract.metadata import (
    clean_title,
    dates,
    detect_language,
    page_time,
    split_authors,
    url_date,
)

URL = "https://www.golem.de/news/lte-patent-2404-1.html"
GERMAN = (
    "Die Aufregung nach dem Aufmarsch von Islamisten in Hamburg bleibt groß. Auch in Österreich "
    "stellt sich nun die Frage, wie die Antwort im Umgang mit religiösen Fanatikern aussehen soll."
)


@pytest.mark.parametrize(
    ("title", "site", "url"),
    [
        ("Samsung soll Smartphones zerstören - Golem.de", None, URL),
        (
            "Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung",
            "Börsen-Zeitung",
            "https://x.test/a",
        ),
        ("Was wissen wir? – DW – 13.06.2023", None, "https://www.dw.com/de/a-1"),
        ("Hlavní aktér prodává vilu - Seznam Zprávy", None, "https://www.seznamzpravy.cz/c/1"),
    ],
)
def test_clean_title_removes_site_suffix(title: str, site: str | None, url: str) -> None:
    assert clean_title(title, site, url) == title.split(" - ")[0].split(" | ")[0].split(" – ")[0]


@pytest.mark.parametrize(
    "title",
    ["Biden - Trump: the rematch", "Trump - the White House", "Israel und Gaza: News im Konflikt"],
)
def test_clean_title_keeps_titles_without_site_suffix(title: str) -> None:
    assert clean_title(title, "Example News", "https://example.test/a") == title


def test_split_authors_strips_von_and_emails() -> None:
    raw = "Von Jemima Kelly (jemima.kelly@example.com), Autor Monika Bolliger"
    assert split_authors(raw) == ("Jemima Kelly", "Monika Bolliger")


@pytest.mark.parametrize("raw", ["Jane Doe; Staff", "Jane Doe, Redaktion", "Verlag GmbH; Jane Doe"])
def test_split_authors_drops_desk_labels_and_companies(raw: str) -> None:
    assert split_authors(raw) == ("Jane Doe",)


def test_split_authors_drops_the_sites_host_name() -> None:
    assert split_authors("Nina Magoley; WDR", None, "https://www1.wdr.de/a.html") == (
        "Nina Magoley",
    )


def test_split_authors_splits_on_other_languages_and() -> None:
    assert split_authors("Trine Jørgensen og Tôrtia Reimer") == ("Trine Jørgensen", "Tôrtia Reimer")


def test_dates_refines_day_with_page_timestamp_in_utc() -> None:
    html = '<script type="application/ld+json">{"datePublished": "2024-04-25T19:30:04+02:00"}'
    published, _, source = dates("2024-04-25", html, "https://x.test/a")
    assert (published, source) == (datetime(2024, 4, 25, 17, 30, 4, tzinfo=UTC), "page")


def test_dates_ignores_page_timestamp_of_another_day() -> None:
    html = '<meta property="article:published_time" content="2019-02-05T10:00:00Z">'
    published, _, _ = dates("2023-08-30", html, "https://x.test/a")
    assert published == datetime(2023, 8, 30, tzinfo=UTC)


def test_dates_reads_modified_time_in_utc() -> None:
    html = '<meta property="article:modified_time" content="2024-05-18T08:00:00-04:00">'
    _, modified, _ = dates("2024-05-17", html, "https://x.test/a")
    assert modified == datetime(2024, 5, 18, 12, 0, tzinfo=UTC)


def test_dates_falls_back_to_url_date() -> None:
    assert dates(None, "<html></html>", "https://x.test/2024/05/17/story") == (
        datetime(2024, 5, 17, tzinfo=UTC),
        None,
        "url",
    )


def test_dates_without_any_date_has_no_source() -> None:
    assert dates(None, "<html></html>", "https://x.test/story") == (None, None, None)


@pytest.mark.parametrize("url", ["https://x.test/2024/13/01/a", "https://x.test/id/20240517"])
def test_url_date_rejects_non_dates(url: str) -> None:
    assert url_date(url) is None


def test_detect_language_prefers_confident_detection_over_declared() -> None:
    assert detect_language(GERMAN, "en") == "de"


def test_detect_language_falls_back_to_declared_on_empty_text() -> None:
    assert detect_language("  ", "fr") == "fr"


@pytest.mark.parametrize(
    ("html", "want"),
    [
        ('{"@type": "NewsArticle", "datePublished": "2024-04-25T19:30:04"}', "2024-04-25T19:30:04"),
        ('<meta itemprop="datePublished" content="2024-04-25">', "2024-04-25"),
        ('<meta property="article:published_time" content="2024-04-25T10:00">', "2024-04-25T10:00"),
        ('"datePublished" word; <meta name="pubdate" content="2023-01-02">', "2023-01-02"),
        ('<meta name="datePublished-x" content="2024-04-25">', None),
        ("no time here", None),
    ],
)  # fmt: skip
def test_page_time_finds_the_first_published_stamp(html: str, want: str | None) -> None:
    assert page_time(html, "published") == want
