"""The article's own structured data (schema.org JSON-LD): headline, authors, publisher and
whether it is free to read, read from the page's parsed tree once."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ARTICLE_TYPES = frozenset({"BlogPosting", "LiveBlogPosting", "Report", "WebPage"})
ORGANIZATION_TYPES = frozenset({"Organization", "NewsMediaOrganization", "Corporation"})


@dataclass(frozen=True, slots=True)
class StructuredData:
    """What the page's JSON-LD says about its article (empty when it says nothing)."""

    headline: str | None = None
    people: tuple[str, ...] = ()  # authors typed Person (or untyped), as written
    organizations: tuple[str, ...] = ()  # authors typed Organization (a desk, an agency)
    publisher: str | None = None
    accessible_for_free: bool | None = None  # isAccessibleForFree; None when not stated


def _objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _objects(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            yield from _objects(data.get(key))


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    return {t for t in (kind if isinstance(kind, list) else [kind]) if isinstance(t, str)}


def _is_article(obj: dict[str, Any]) -> bool:
    kinds = _types(obj)
    return any(t.endswith("Article") for t in kinds) or bool(kinds & ARTICLE_TYPES)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if isinstance(v, str))
    if not isinstance(value, str):
        return None
    return " ".join(html.unescape(value).split()) or None


def _free(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in {"true", "false"}:
        return value.strip().casefold() == "true"
    return None


def _authors(value: Any) -> tuple[list[str], list[str]]:
    people: list[str] = []
    organizations: list[str] = []
    for entry in value if isinstance(value, list) else [value]:
        name = _text(entry.get("name")) if isinstance(entry, dict) else _text(entry)
        if not name:
            continue
        is_org = isinstance(entry, dict) and bool(_types(entry) & ORGANIZATION_TYPES)
        (organizations if is_org else people).append(name)
    return people, organizations


def _from_article(obj: dict[str, Any]) -> StructuredData:
    people, organizations = _authors(obj.get("author"))
    publisher = obj.get("publisher")
    return StructuredData(
        headline=_text(obj.get("headline")),
        people=tuple(people),
        organizations=tuple(organizations),
        publisher=_text(publisher.get("name")) if isinstance(publisher, dict) else None,
    )


def read_structured(tree: Any) -> StructuredData:
    """The first article object (``*Article``, ``BlogPosting``, ...) among the page's JSON-LD
    scripts, a ``WebPage`` only when no article object is found; broken scripts are skipped."""
    if tree is None:
        return StructuredData()
    found: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().casefold() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        found += [obj for obj in _objects(data) if _is_article(obj)]
    articles = [obj for obj in found if "WebPage" not in _types(obj)] or found
    if not articles:
        return StructuredData()
    stated = [_free(obj.get("isAccessibleForFree")) for obj in articles + found]
    free = next((value for value in stated if value is not None), None)
    return dataclasses.replace(_from_article(articles[0]), accessible_for_free=free)
