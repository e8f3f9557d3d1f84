"""Body cleaning: unsafe characters (H8) and generic boilerplate lines."""

from __future__ import annotations

import pytest

from tasks.extract.clean import clean_body, drop_repeats, is_furniture, sanitize

PARA = "The council approved the budget on Tuesday after a long debate about the new library."


def test_sanitize_strips_nul_controls_and_lone_surrogates() -> None:
    assert sanitize("a\x00b\x07c\ud800d\udfffe\x85f") == "abcdef"


def test_sanitize_strips_invisible_format_characters() -> None:
    assert sanitize("Helikopter\xadlande\u200bplatz\ufeff") == "Helikopterlandeplatz"


def test_sanitize_result_encodes_as_utf8() -> None:
    sanitize("x\ud83d y").encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


def test_drop_repeats_keeps_first_of_repeated_lines() -> None:
    caption = "Putin spoke Wednesday at the forum in Moscow. Kristina Kormilitsyna/via Reuters"
    assert drop_repeats([caption, caption, PARA]) == [caption, PARA]


def test_drop_repeats_ignores_case_and_punctuation() -> None:
    assert drop_repeats(["Read the story", "read the story!", PARA]) == ["Read the story", PARA]


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "Reader Comments",
        "Share this with",
        "Lesen Sie auch: Baerbock bei der UN",
        "Your session has timed out. Please sign in again.",
        "Foto: Felix Zahn/photothek",
        "STR/AFP via Getty Images",
        "- Baufinanzierung: Experte warnt vor teurem Fehler",
        "MORE : The daily cartoon",
        "3 Minuten Lesezeit",
        "Please keep comments relevant and respectful. Comments may take up to an hour.",
        "For the best experience, we recommend you use a more up to date browser.",
        "READ NEXT: Cape Town heads into a weekend of shifting skies",
        "Are you a Canadian in Israel or Gaza? Send an email to ask@cbc.ca.",
        "You did not use the site, Click here to remain logged. Timeout: 60 second",
        "Von Jana Beispiel und Olaf Muster",
        "By Maria Example",
        "Get the harbour briefing in your inbox every weekday morning.",
        "Unser Newsletter bringt Ihnen die Nachrichten des Tages.",
        "We may earn a commission when you buy through links on this page.",
        "READ MORE: The lighthouse reopens after a decade",
        "Click here to read the full council report.",
        "This is a breaking story - more to follow.",
        "Reporting by Ann Example in Lisbon; Editing by Ben Sample",
        "Il vous reste 62% de cet article à lire.",
        "Gefällt Ihnen unsere Arbeit? Dann unterstützen Sie uns mit einer Spende.",
        "Mit Agenturmaterial.",
    ],
)
def test_is_furniture_flags_widget_credit_and_teaser_lines(line: str) -> None:
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    [
        PARA,
        "- Weight: stay as light as you can while still staying warm, and compare bags.",
        "Share prices fell sharply on Monday as investors weighed the central bank's decision.",
        "Comments from the minister were not immediately available.",
        "By Tuesday the council had approved the plan.",
        "The mayor said the town's newsletter, printed since 1952, would close this year, "
        "ending a tradition that generations of residents had followed closely, because the "
        "paper mill that supplied it shut down and costs rose sharply for the small volunteer "
        "team that wrote, printed and delivered it by hand.",
    ],
)
def test_is_furniture_keeps_article_sentences(line: str) -> None:
    assert not is_furniture(line)


def test_clean_body_drops_trailing_short_labels() -> None:
    assert clean_body(f"{PARA}\nTopics\nPolitics\nBudget") == PARA


def test_clean_body_keeps_a_closing_sentence() -> None:
    assert clean_body(f"{PARA}\nIt passed.") == f"{PARA}\nIt passed."


def test_clean_body_on_syndicated_copy_drops_repeated_caption() -> None:
    caption = "Russian President Vladimir Putin spoke Wednesday. Kristina Kormilitsyna/via Reuters"
    text = f"{caption}\n{caption}\n\n{PARA}\n\nShare this with\n\n{PARA.upper()}"
    assert clean_body(text) == f"{caption}\n\n{PARA}"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Family \U0001f469\u200d\U0001f469\u200d\U0001f467 day", id="zwj-emoji"),
        pytest.param("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", id="persian-zwnj"),
        pytest.param("Red heart \u2764\ufe0f and text \u2764\ufe0e", id="variation-selectors"),
        pytest.param("\u05e9\u05dc\u05d5\u05dd \u200fworld\u200e \u202bembedded\u202c", id="bidi"),
        pytest.param("\u0915\u094d\u200d\u0937 and \u8fbb\U000e0100", id="zwj-devanagari-ivs"),
    ],
)
def test_sanitize_keeps_joiners_variation_selectors_and_bidi_verbatim(text: str) -> None:
    assert sanitize(text) == text


def test_sanitize_strips_noncharacters_and_c1_controls() -> None:
    assert sanitize("a\ufdd0b\ufffec\U0001fffed\U0010ffffe\x9bf\x7fg") == "abcdefg"


def test_sanitize_keeps_tab_free_text_and_newlines() -> None:
    assert sanitize("one\r\ntwo\n\n\nthree") == "one\ntwo\n\nthree"
