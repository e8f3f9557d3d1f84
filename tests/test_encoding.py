"""Checklist rows E1-E2 (``docs/faults.md`` A3, Encoding):
:func:`tasks.fetch.encoding.sniff_encoding` and :func:`tasks.fetch.encoding.decode_html` on bytes
we encode ourselves, and the same pages served on 127.0.0.1, fetched by
:func:`tasks.fetch.polite.fetch_pages` and extracted by :func:`tasks.extract.extract.extract_page`
(browser order: BOM, HTTP header, ``<meta>``, detection)."""

from __future__ import annotations

import codecs
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tasks.extract.extract import extract_page, pages_to_extract
from tasks.fetch.encoding import decode_html, sniff_encoding
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.netguard import NetworkPolicy
from tasks.fetch.polite import fetch_pages
from tests.loopback import LoopbackServer, Route
from tests.rawserver import LoopbackOnlyNetwork

FFFD = "\ufffd"

GERMAN = (
    "Die Größe der Überschwemmung überraschte die Behörden: In Köln stieg der Rhein über "
    "die Marke von zehn Metern, und viele Bürger mussten ihre Häuser verlassen, während "
    "Helfer Sandsäcke füllten und die Straßen sperrten."
)
RUSSIAN = (
    "Съешь же ещё этих мягких французских булок да выпей чаю: в Москве открылась "
    "новая библиотека, где читатели смогут найти редкие книги, старые газеты и журналы "
    "прошлого века, а также посетить лекции известных историков."
)
FRENCH = (
    "L’été dernier, nous sommes allés à la fête du village ; c’était très agréable — "
    "« magnifique », disait-on. Les enfants ont dansé jusqu’à minuit, et le maire a "
    "remercié les bénévoles pour leur travail remarquable."
)
CHINESE = (
    "朱镕基总理在会议上说，今年的经济增长超过预期。镕字不在国标二三一二字符集中，"
    "但在国标一八零三零中存在。记者报道，会议讨论了教育、医疗、住房、交通、环境、"
    "农业、科技、文化、体育和养老等问题，并提出了新的改革措施。与会代表认为，"
    "这些措施将促进社会发展，提高人民生活水平，增强经济活力，改善公共服务，"
    "保护生态环境，推动城乡协调发展。会后，代表们参观了学校、医院、工厂和农场，"
    "与工人、农民、教师、医生和学生进行了交流。"
)


def _page(text: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>Report</title></head><body>"
        f"<article><h1>Report</h1><p>{text}</p><p>{text}</p></article></body></html>"
    )


@dataclass(frozen=True)
class Case:
    body: bytes
    content_type: str | None
    expected_codec: str
    text: str


CASES = {
    "header-latin1-body-utf8": Case(
        _page(GERMAN).encode("utf-8"), "text/html; charset=ISO-8859-1", "utf-8", GERMAN
    ),
    "meta-windows-1251-no-header-charset": Case(
        _page(RUSSIAN, '<meta charset="windows-1251">').encode("cp1251"),
        "text/html",
        "cp1251",
        RUSSIAN,
    ),
    "meta-http-equiv-windows-1251-no-header": Case(
        _page(
            RUSSIAN, '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        ).encode("cp1251"),
        None,
        "cp1251",
        RUSSIAN,
    ),
    "utf8-bom-header-windows-1252": Case(
        codecs.BOM_UTF8 + _page(FRENCH).encode("utf-8"),
        "text/html; charset=windows-1252",
        "utf-8",
        FRENCH,
    ),
    "utf16le-bom-header-utf8": Case(
        ("\ufeff" + _page(GERMAN)).encode("utf-16-le"),
        "text/html; charset=utf-8",
        "utf-16-le",
        GERMAN,
    ),
    "utf8-bom-meta-windows-1251": Case(
        codecs.BOM_UTF8 + _page(RUSSIAN, '<meta charset="windows-1251">').encode("utf-8"),
        "text/html",
        "utf-8",
        RUSSIAN,
    ),
    "header-gb18030": Case(
        _page(CHINESE).encode("gb18030"), "text/html; charset=gb18030", "gb18030", CHINESE
    ),
    "no-charset-utf8": Case(_page(FRENCH).encode("utf-8"), "text/html", "utf-8", FRENCH),
    "no-charset-cp1252": Case(_page(FRENCH).encode("cp1252"), "text/html", "cp1252", FRENCH),
    "no-content-type-at-all-utf8": Case(_page(GERMAN).encode("utf-8"), None, "utf-8", GERMAN),
    "header-utf8-meta-latin1-body-cp1252": Case(  # a false UTF-8 label: the next one decides
        _page(FRENCH, '<meta charset="windows-1252">').encode("cp1252"),
        "text/html; charset=utf-8",
        "cp1252",
        FRENCH,
    ),
}

GB2312_LABEL = Case(
    _page(CHINESE, '<meta charset="gb2312">').encode("gb18030"),
    "text/html; charset=gb2312",
    "gb18030",
    CHINESE,
)


def _all_cases() -> list[pytest.ParameterSet]:
    params = [pytest.param(case, id=name) for name, case in CASES.items()]
    params.append(pytest.param(GB2312_LABEL, id="gb2312-label-gb18030-text"))
    return params


# === E1: sniff_encoding / decode_html ============================================================


@pytest.mark.parametrize("case", _all_cases())
def test_e1_decode_html_follows_browser_order_without_replacement_chars(case: Case) -> None:
    codec, _origin = sniff_encoding(case.body, case.content_type)
    text = decode_html(case.body, case.content_type)

    assert FFFD not in text
    assert case.text in text
    assert not text.startswith("\ufeff")
    assert codecs.lookup(codec).name == codecs.lookup(case.expected_codec).name


def test_e1_bom_wins_over_header_and_meta() -> None:
    body = codecs.BOM_UTF8 + '<meta charset="windows-1251"><p>Größe</p>'.encode()

    assert sniff_encoding(body, "text/html; charset=iso-8859-1") == ("utf-8", "bom")
    assert decode_html(body, "text/html; charset=iso-8859-1") == (
        '<meta charset="windows-1251"><p>Größe</p>'
    )


def test_e1_header_wins_over_meta() -> None:
    body = '<meta charset="windows-1252"><p>Привет</p>'.encode("cp1251")

    assert sniff_encoding(body, "text/html; charset=windows-1251") == ("cp1251", "header")
    assert "Привет" in decode_html(body, "text/html; charset=windows-1251")


# === E2: short snippets are not mis-decoded ======================================================


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        ("Привет, мир", "cp1251", "windows-1251"),
        ("Ещё", "cp1251", "windows-1251"),
        ("Café – “quoted” €5", "cp1252", "windows-1252"),
        ("naïve façade", "cp1252", "windows-1252"),
        ("Größe für Ärger", "latin-1", "iso-8859-1"),
        ("Ærø, Åland", "latin-1", "latin1"),
    ],
)
@pytest.mark.parametrize("where", ["header", "meta"])
def test_e2_short_snippet_with_correct_declaration_is_not_mis_decoded(
    text: str, encoding: str, label: str, where: str
) -> None:
    if where == "header":
        body, content_type = f"<p>{text}</p>".encode(encoding), f"text/html; charset={label}"
    else:
        body = f'<meta charset="{label}"><p>{text}</p>'.encode(encoding)
        content_type = "text/html"

    decoded = decode_html(body, content_type)

    assert FFFD not in decoded
    assert f"<p>{text}</p>" in decoded


def test_e2_short_undeclared_cp1252_snippet_falls_back_to_windows_1252() -> None:
    body = "<p>Café – “quoted” €5</p>".encode("cp1252")

    assert decode_html(body, "text/html") == "<p>Café – “quoted” €5</p>"


# === E1/E2 end to end: served, fetched, extracted ================================================


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> LoopbackOnlyNetwork:
    return LoopbackOnlyNetwork().install(monkeypatch)


@pytest.fixture
def server(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """conftest's server, stopped without waiting out ``serve_forever``'s 0.5 s poll interval,
    and quiet about clients that hang up on it (the fetcher closes connections whose bodies it
    does not want: the kernel answers the server with a reset)."""
    report = server._httpd.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    monkeypatch.setattr(server._httpd, "handle_error", handle_error)
    yield server
    port = int(server.base.rsplit(":", 1)[1])
    stopper = threading.Thread(target=server._httpd.shutdown, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 2.0
    while stopper.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            pass
        stopper.join(0.01)


SHORT_PAGES = {
    "cp1251-header": Case(
        _page(RUSSIAN).encode("cp1251"), "text/html; charset=windows-1251", "cp1251", RUSSIAN
    ),
    "cp1252-header": Case(
        _page(FRENCH).encode("cp1252"), "text/html; charset=windows-1252", "cp1252", FRENCH
    ),
    "latin1-header": Case(
        _page(GERMAN).encode("latin-1"), "text/html; charset=iso-8859-1", "cp1252", GERMAN
    ),
}


def _end_to_end_cases() -> list[pytest.ParameterSet]:
    cases = {**CASES, **SHORT_PAGES}
    params = [pytest.param(case, id=name) for name, case in cases.items()]
    params.append(pytest.param(GB2312_LABEL, id="gb2312-label-gb18030-text"))
    return params


@pytest.mark.parametrize("case", _end_to_end_cases())
def test_e1_e2_fetched_page_extracted_without_replacement_chars(
    server: LoopbackServer, case: Case
) -> None:
    # a page without any Content-Type is not_html; "text/html" alone declares no charset either
    server.routes["/article"] = Route(
        case.body, headers={"Content-Type": case.content_type or "text/html"}
    )
    config = FetchConfig(
        user_agent="newsflow-test/1",
        network_policy=NetworkPolicy.parse("127.0.0.1/32"),
        delay=0,
        retries=0,
        robots=False,
        connect_timeout=1.0,
        read_timeout=2.0,
        total_timeout=5.0,
    )
    fetched = fetch_pages([server.url("/article")], config)
    (page,) = pages_to_extract(fetched)
    assert page.html == case.body  # bytes are passed on, never response.text

    result = extract_page(page)

    assert result.article is not None, result
    assert FFFD not in result.article.text
    assert case.text in result.article.text


@pytest.mark.parametrize("label", ["GB2312", "iso-8859-15", "windows-1251"])
def test_e1_utf8_body_under_legacy_meta_label_decodes_as_utf8(label: str) -> None:
    text = "促进航天技术 – sanción – Привет"
    body = f'<html><head><meta charset="{label}"></head><body><p>{text}</p>'.encode()
    assert sniff_encoding(body, None)[0] == "utf-8"
    assert text in decode_html(body, None)
