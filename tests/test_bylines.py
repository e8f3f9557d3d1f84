"""Authors from the page's byline elements and from a byline paragraph of the body."""

from __future__ import annotations

import lxml.html
import pytest

from tasks.extract.bylines import body_byline, byline_names, looks_like_person

URL = "https://www.example-news.test/politik/1"


def _tree(body: str) -> object:
    return lxml.html.fromstring(f"<html><body><h1>Headline</h1>{body}</body></html>")


def test_byline_names_reads_an_author_link() -> None:
    tree = _tree('<p>von <a href="/autoren/name/max-kolter">Dr. Max Kolter</a></p>')
    assert byline_names(tree, None, URL) == ("Dr. Max Kolter",)


def test_byline_names_skips_links_to_the_list_of_authors() -> None:
    tree = _tree(
        '<a href="/autoren">Autoren</a><a href="/autoren">Unsere Autorinnen und Autoren</a>'
        '<span class="byline">By Jane Roe and John Doe</span>'
    )
    assert byline_names(tree, None, URL) == ("Jane Roe", "John Doe")


def test_byline_names_reads_only_the_first_byline_with_text() -> None:
    tree = _tree(
        '<div class="author-wrap">dpa</div>'
        '<div class="teaser"><div class="appetizer-author">Von Christoph Reisinger</div></div>'
    )
    assert byline_names(tree, None, URL) == ()


def test_byline_names_drops_the_sites_desk() -> None:
    tree = _tree('<p class="author">von David Straub, MDR THÜRINGEN</p>')
    assert byline_names(tree, "MDR", "https://www.mdr.de/a.html") == ("David Straub",)


def test_byline_names_ignores_a_long_author_box() -> None:
    box = "Jane Roe writes about science and has worked for many papers over the years. " * 3
    assert byline_names(_tree(f'<div class="author-bio">{box}</div>'), None, URL) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Mohloai Mpesi\nIN the heart of Lesotho, a young lawyer stands as a beacon of hope.",
        "…as communities cry foul\n…accuse chiefs\nMohloai Mpesi\nThe article begins.",
        "The article begins and ends with its author.\nMohloai Mpesi",
    ],
)
def test_body_byline_reads_a_names_paragraph_at_the_start_or_end(text: str) -> None:
    assert body_byline(text, None, URL) == ("Mohloai Mpesi",)


@pytest.mark.parametrize(
    "text",
    [
        "Par Les Echos\nThe article begins here and goes on.",
        "Twitter Facebook\nThe article begins here and goes on.",
        "The article begins.\nMore text.\nEven more.\nJane Roe says this.\nThe end of it.",
        "New York City\nThe article begins here and goes on.".replace("City", "city"),
    ],
)
def test_body_byline_ignores_lines_that_are_not_names(text: str) -> None:
    assert body_byline(text, "Les Echos", "https://www.lesechos.test/a") == ()


@pytest.mark.parametrize(
    ("name", "person"),
    [
        ("Jane Roe", True),
        ("Lê Phương", True),
        ("Dr. Max Kolter", True),
        ("Jane", False),
        ("Unsere Autorinnen", False),
        ("Twitter Facebook", False),
        ("Veröffentlicht am 27.04.24", False),
        ("Example Staff", False),
    ],
)
def test_looks_like_person(name: str, person: bool) -> None:
    assert looks_like_person(name, {"example"}) is person
