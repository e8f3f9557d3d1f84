"""Titles and authors chosen among the page's JSON-LD, <h1>, meta tags and trafilatura's
fields."""

from __future__ import annotations

import pytest

from tasks.extract.jsonld import StructuredData
from tasks.extract.metadata import split_authors
from tasks.extract.pagemeta import choose_authors, choose_title

URL = "https://www.example-news.test/politics/1"


def test_choose_title_prefers_the_jsonld_headline() -> None:
    structured = StructuredData(headline="Council approves budget")
    assert (
        choose_title(structured, "Budget: the vote", None, None, URL) == "Council approves budget"
    )


@pytest.mark.parametrize(
    "title",
    [
        "Vierschanzentournee | Skisprung-Zoff ums Material",
        "Skisprung-Zoff ums Material - National",
    ],
)
def test_choose_title_takes_the_h1_beside_a_label(title: str) -> None:
    h1 = "Skisprung-Zoff ums Material"
    assert choose_title(StructuredData(), title, h1, None, URL) == h1


def test_choose_title_keeps_a_kicker_longer_than_a_label() -> None:
    title = "Rückbau von Atomkraftwerk: Kühltürme von AKW Gundremmingen gesprengt"
    h1 = "Kühltürme von AKW Gundremmingen gesprengt"
    assert choose_title(StructuredData(), title, h1, None, URL) == title


def test_choose_title_drops_a_trailing_by_author_and_site() -> None:
    title = "New twist in the case | Example News | by Cristina Laila"
    assert (
        choose_title(StructuredData(), title, None, "Example News", URL) == "New twist in the case"
    )


def test_choose_authors_prefers_jsonld_people_over_the_byline() -> None:
    structured = StructuredData(people=("Heryadi",), publisher="Media")
    assert choose_authors(structured, "Media Developer; Heryadi", (), None, URL) == ("Heryadi",)


def test_choose_authors_keeps_names_without_spaces_from_meta_tags() -> None:
    assert choose_authors(StructuredData(), None, ("한국일보", "신현주 기자"), "한국일보", URL) == (
        "신현주",
    )


def test_choose_authors_takes_organizations_only_when_no_person_is_named() -> None:
    structured = StructuredData(organizations=("kicker",))
    assert choose_authors(structured, None, (), None, URL) == ("kicker",)
    named = StructuredData(people=("Jane Doe",), organizations=("dpa",))
    assert choose_authors(named, None, (), None, URL) == ("Jane Doe",)


def test_choose_authors_drops_the_publisher_when_people_are_named() -> None:
    structured = StructuredData(publisher="Condé Nast Verlag")
    byline = "Condé Nast Verlag; Philipp Wehsack"
    assert choose_authors(structured, byline, (), None, URL) == ("Philipp Wehsack",)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("Sophie Foster; Sophie-Foster", ("Sophie Foster",)),
        ("Elena Oberholzer (obe); Oliver Maksan (oma)", ("Elena Oberholzer", "Oliver Maksan")),
        ("Mathias Hagen; Journalist; Anders Hagen", ("Mathias Hagen", "Anders Hagen")),
        ("ERIC TUCKER Associated Press", ("ERIC TUCKER",)),
        ("Tom Gillespie News reporter", ("Tom Gillespie",)),
        ("The Associated Press", ("The Associated Press",)),
        ("JERUSALEM POST STAFF NOVEMBER; Jane Doe", ("Jane Doe",)),
        ("The Times https; Www Times Com; Tom Davies", ("Tom Davies",)),
        ("李小龙", ("李小龙",)),
        ("Povilas Aleksandravičius; Mykolo Romerio universiteto Žmogaus ir visuomenės studijų "
         "fakulteto profesorius", ("Povilas Aleksandravičius",)),
    ],
)  # fmt: skip
def test_split_authors_keeps_person_names_only(raw: str, names: tuple[str, ...]) -> None:
    assert split_authors(raw) == names
