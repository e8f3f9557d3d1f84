"""Titles and authors chosen among the page's JSON-LD, head, byline elements and trafilatura's
fields."""

from __future__ import annotations

import lxml.html
import pytest

from tasks.extract.jsonld import StructuredData
from tasks.extract.metadata import split_authors
from tasks.extract.pagemeta import PageHead, choose_authors, page_title, read_head

URL = "https://www.example-news.test/politics/1"


def test_page_title_prefers_the_jsonld_headline() -> None:
    structured = StructuredData(headline="Council approves budget")
    title = page_title(structured, "Budget: the vote", PageHead(), None, URL)
    assert title == "Council approves budget"


def test_page_title_keeps_a_label_another_headline_lacks() -> None:
    structured = StructuredData(headline="Thioune fordert Geduld mit Niemiec | Sport")
    head = PageHead(og_title="Thioune fordert Geduld mit Niemiec")
    title = page_title(structured, None, head, None, URL)
    assert title == "Thioune fordert Geduld mit Niemiec | Sport"


def test_page_title_keeps_a_kicker_longer_than_a_label() -> None:
    title = "Rückbau von Atomkraftwerk: Kühltürme von AKW Gundremmingen gesprengt"
    head = PageHead(og_title="Kühltürme von AKW Gundremmingen gesprengt")
    assert page_title(StructuredData(), title, head, None, URL) == title


def test_page_title_drops_a_trailing_by_author_and_site() -> None:
    title = "New twist in the case | Example News | by Cristina Laila"
    assert page_title(StructuredData(), title, PageHead(), "Example News", URL) == (
        "New twist in the case"
    )


def test_page_title_drops_the_publishers_name() -> None:
    structured = StructuredData(publisher="The Daily Example")
    title = page_title(structured, "Council approves budget - The Daily Example", PageHead(),
                       None, URL)  # fmt: skip
    assert title == "Council approves budget"


def test_page_title_falls_back_to_the_pages_og_title() -> None:
    head = PageHead(og_title="Council approves budget", html_title="Example News")
    assert page_title(StructuredData(), None, head, None, URL) == "Council approves budget"


def test_read_head_reads_titles_and_author_tags_in_one_walk() -> None:
    tree = lxml.html.fromstring(
        "<html><head><title>Budget | Example</title>"
        '<meta property="og:title" content="Budget  passes">'
        '<meta name="twitter:title" content="Budget!">'
        '<meta name="author" content="Jane Doe"><meta name="author" content="신현주 기자">'
        "</head><body><h1>The budget passes</h1><title>Not the head's</title></body></html>"
    )
    assert read_head(tree) == PageHead(
        og_title="Budget passes",
        twitter_title="Budget!",
        html_title="Budget | Example",
        author_tags=("Jane Doe", "신현주 기자"),
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
        ("Le Figaro et AFP", ("Le Figaro",)),
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


def test_choose_authors_reads_the_byline_when_the_metadata_names_only_the_site() -> None:
    tree = lxml.html.fromstring(
        '<html><body><h1>Schlachthof</h1><p class="author">von <a href="mailto:d@mdr.test">'
        "David Straub, MDR THÜRINGEN</a></p><p>Text</p></body></html>"
    )
    url = "https://www.mdr.test/nachrichten/1.html"
    assert choose_authors(StructuredData(), "Mdr Test", (), "MDR", url, tree) == ("David Straub",)


def test_choose_authors_keeps_the_site_when_byline_is_skipped() -> None:
    tree = lxml.html.fromstring('<p class="author">von David Straub</p>')
    url = "https://www.mdr.test/nachrichten/1.html"
    skip = frozenset({"byline"})
    assert choose_authors(StructuredData(), "Mdr Test", (), "MDR", url, tree, skip) == ("Mdr Test",)


def test_choose_authors_reads_a_names_paragraph_of_the_body() -> None:
    body = "A lead line\nJane Roe/John Doe\nThe article starts here and goes on for a while."
    url = "https://lestimes.test/a/"
    got = choose_authors(StructuredData(), "Lesotho Times", (), "Lesotho Times", url, None,
                         frozenset(), body)  # fmt: skip
    assert got == ("Jane Roe", "John Doe")


def test_choose_authors_drops_places_beside_the_site_in_the_author_tag() -> None:
    structured = StructuredData(organizations=("Redaktion hessenschau.test",))
    tag = ("hessenschau.test, Frankfurt, Germany",)
    url = "https://www.hessenschau.test/a.html"
    got = choose_authors(structured, "Hessenschau Test; Frankfurt; Germany", tag, None, url)
    assert got == ("Redaktion hessenschau.test",)


def test_choose_authors_keeps_one_word_names_when_the_site_is_not_named() -> None:
    assert choose_authors(StructuredData(), None, ("Heryadi, Budi",), None, URL) == (
        "Heryadi",
        "Budi",
    )


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("Capital Von Jemima Kelly", ("Jemima Kelly",)),
        ("Ursula von der Leyen", ("Ursula von der Leyen",)),
        ("Otto von Bismarck", ("Otto von Bismarck",)),
        ("Perry Bacon Jr.", ("Perry Bacon Jr.",)),
        ("Jane Roe.", ("Jane Roe",)),
        ("No Author", ()),
    ],
)
def test_split_authors_drops_labels_keeps_abbreviations(raw: str, names: tuple[str, ...]) -> None:
    assert split_authors(raw) == names


def test_page_title_drops_the_sites_name_before_a_bar() -> None:
    title = "NEWS WEB EASY|子どもへの体罰を禁止する法律ができる"
    got = page_title(StructuredData(), title, PageHead(), "NEWS WEB EASY", URL)
    assert got == "子どもへの体罰を禁止する法律ができる"


def test_page_title_keeps_a_prefix_that_is_not_the_site() -> None:
    title = "Vierschanzentournee | Skisprung-Zoff ums Material"
    assert page_title(StructuredData(), title, PageHead(), "Tageblatt", URL) == title


def test_page_title_keeps_the_site_prefix_when_prefix_is_skipped() -> None:
    title = "NEWS WEB EASY|子どもへの体罰を禁止する法律ができる"
    skip = frozenset({"prefix"})
    assert page_title(StructuredData(), title, PageHead(), "NEWS WEB EASY", URL, skip) == title


def test_choose_authors_keeps_the_label_before_von_when_label_is_skipped() -> None:
    skip = frozenset({"label"})
    assert choose_authors(
        StructuredData(), "Capital Von Jemima Kelly", (), None, URL, None, skip
    ) == ("Capital Von Jemima Kelly",)
