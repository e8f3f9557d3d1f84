"""The body pipeline's guards: the next story of an infinite-scroll page cut off, cleaning that
removed most of trafilatura's text undone, restored siblings that look like article paragraphs."""

from __future__ import annotations

import lxml.html

from tasks.extract import siblings
from tasks.extract.body import body_text, guarded, needs_recheck, one_story, second_opinion

SENTENCE = "The council approved the new budget for the library after a long debate on Tuesday."


def _story(n: int, topic: str) -> list[str]:
    return [f"{topic} paragraph {i}: {SENTENCE}" for i in range(n)]


def test_one_story_cuts_the_next_article_of_an_infinite_scroll_page() -> None:
    first, second = _story(8, "Budget"), _story(4, "Football")
    html = "".join(
        f"<article>{''.join(f'<p>{p}</p>' for p in story)}</article>" for story in (first, second)
    )
    tree = lxml.html.fromstring(f"<html><body>{html}</body></html>")
    assert one_story(tree, "\n".join(first + second)) == "\n".join(first)


def test_one_story_keeps_a_page_with_one_article() -> None:
    lines = _story(8, "Budget")
    tree = lxml.html.fromstring(f"<html><body><article><p>{'</p><p>'.join(lines)}</p></article>")
    assert one_story(tree, "\n".join(lines)) == "\n".join(lines)


def test_guarded_undoes_cleaning_that_removed_most_of_the_text() -> None:
    raw = "\n".join(f"- Item {i} of the list of council decisions on the budget" for i in range(20))
    assert guarded(raw, "") == raw
    assert guarded(raw, raw.split("\n")[0] * 30) == raw.split("\n")[0] * 30


def test_body_text_restores_no_link_list_as_sibling_paragraphs() -> None:
    kept = _story(3, "Budget")
    links = [f"<p><a href='/{i}'>Related story {i}: {SENTENCE}</a></p>" for i in range(3)]
    block = "".join(f"<p>{p}</p>" for p in kept)
    html = f"<div class='c'><div class='b'>{block}</div><div class='b'>{''.join(links)}</div></div>"
    tree = lxml.html.fromstring(f"<html><body>{html}</body></html>")
    text = "\n".join(kept)
    assert siblings.restore(tree, text, text) == text
    assert body_text(tree, text, None) == text


def test_needs_recheck_when_cleaning_cut_a_tenth_of_the_text() -> None:
    raw = "\n".join(_story(10, "Budget"))
    assert needs_recheck(raw, "\n".join(_story(8, "Budget")))
    assert not needs_recheck(raw, "\n".join(_story(10, "Budget")))


def test_second_opinion_takes_a_shorter_precise_body_but_not_a_collapsed_one() -> None:
    ours = "\n".join(_story(10, "Budget"))
    assert second_opinion(ours, "\n".join(_story(8, "Budget"))) == "\n".join(_story(8, "Budget"))
    assert second_opinion(ours, "\n".join(_story(2, "Budget"))) == ours
    assert second_opinion(ours, "\n".join(_story(12, "Budget"))) == ours
