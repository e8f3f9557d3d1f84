"""The sources registry: ``sources.yaml`` validated by a typed model, with clear errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tasks.dedup.urls import canonicalize_url
from tasks.discover.urllists import is_local
from tasks.records import ExtractOptions, FeedItem, ItemFilter

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Kind = Literal["auto", "feed", "sitemap", "urls"]
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class SourcesError(Exception):
    """The sources file cannot be used; the message names the entry and the field."""


# Longest interval between two runs: 30 days. A feed lists its latest 10-100 items, so a source
# read less often than that misses most of what it published; rarer runs are ``enabled: false``
# and a manual ``newsflow ingest``. (Prefect itself refuses intervals past about 10^13 s.)
MAX_INTERVAL = 30 * 24 * 3600


def _check_cron(expression: str) -> str:
    """A cron expression ``newsflow serve`` and ``prefect deploy`` will accept: five fields,
    and valid by Prefect's own schedule object (its croniter refuses ``LW``, ``5L``, ...),
    which has its next run computable (``cronsim`` as a second opinion)."""
    from cronsim import CronSim, CronSimError
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r} must have 5 fields")
    try:
        CronSchedule(cron=expression, timezone="UTC")
        CronSim(expression, datetime(2026, 1, 1, tzinfo=UTC))
    except ValidationError:
        raise ValueError(f"invalid cron expression {expression!r} (Prefect refuses it)") from None
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    return expression


class ExtractConfig(BaseModel):
    """A source's extraction switches (trafilatura's names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    favor_precision: bool = False  # the defaults are what bench/extraction.py measured best
    favor_recall: bool = False
    include_tables: bool = True
    include_comments: bool = False

    def options(self) -> ExtractOptions:
        return ExtractOptions(**self.model_dump())


def _check_documents(urls: list[str]) -> list[str]:
    for url in urls:
        if not is_local(url) and canonicalize_url(url) is None:
            raise ValueError(f"{url!r} is not an http(s) URL or a file: path")
    return urls


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return patterns


def _check_proxy(url: str | None) -> str | None:
    """An http(s) proxy URL: scheme, host and optional port (and user:password), nothing else."""
    if url is None:
        return None
    shown = re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)  # no password in the message
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a proxy URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an http(s) proxy URL, e.g. http://proxy.internal:3128")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{shown!r}: a proxy URL has no path, query or fragment")
    if port == 0 or any(c in url for c in " \t\r\n"):
        raise ValueError(f"{shown!r} is not a proxy URL")
    return url


def _matches(patterns: list[str], text: str) -> bool:
    return any(re.search(p, text) for p in patterns)


class SourceConfig(BaseModel):
    """One news source: a stable slug, where its article URLs are listed (feeds, sitemaps, URL
    lists), when to ingest it, and per-source options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    sitemaps: list[str] = Field(default_factory=list, description="sitemaps or sitemap indexes")
    urls: list[str] = Field(default_factory=list, description="plain-text URL lists")
    feeds: list[str] = Field(
        default_factory=list, validate_default=True, description="documents of kind `kind`"
    )
    kind: Kind = Field(default="auto", description="kind of the `feeds` documents")
    schedule: str | None = None
    interval: int | None = Field(default=None, ge=60, le=MAX_INTERVAL, description="seconds")
    enabled: bool = True
    delay: float | None = Field(default=None, ge=0, description="politeness delay per host, s")
    max_items: int | None = Field(default=None, ge=1)
    include: list[str] = Field(default_factory=list, description="URL regexes; one must match")
    exclude: list[str] = Field(default_factory=list, description="URL regexes; none may match")
    include_title: list[str] = Field(default_factory=list, description="title regexes; one must")
    exclude_title: list[str] = Field(default_factory=list, description="title regexes; none may")
    max_age_days: int | None = Field(default=None, ge=1, le=36_500, description="older: skipped")
    proxy: str | None = Field(default=None, description="http(s) proxy for this source's fetches")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every request")

    @field_validator("sitemaps", "urls")
    @classmethod
    def _documents_are_urls(cls, urls: list[str]) -> list[str]:
        return _check_documents(urls)

    @field_validator("feeds")
    @classmethod
    def _feeds_or_other_documents(cls, feeds: list[str], info: ValidationInfo) -> list[str]:
        if not (feeds or info.data.get("sitemaps") or info.data.get("urls")):
            raise ValueError("give at least one document: feeds, sitemaps or urls")
        return _check_documents(feeds)

    @field_validator("include", "exclude", "include_title", "exclude_title")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)

    @field_validator("proxy")
    @classmethod
    def _proxy_is_a_url(cls, proxy: str | None) -> str | None:
        return _check_proxy(proxy)

    @field_validator("headers")
    @classmethod
    def _headers_are_sane(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name!r} is not a header name newsflow can send")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r}: value must be one line")
        return headers

    @property
    def documents(self) -> dict[str, str]:
        """Every document to discover from, mapped to its kind (``auto``: detected)."""
        kinds: dict[str, str] = {url: self.kind for url in self.feeds}
        kinds.update({url: "sitemap" for url in self.sitemaps})
        kinds.update({url: "urls" for url in self.urls})
        return kinds

    def wants(self, url: str) -> bool:
        """Whether an item URL passes the source's ``include``/``exclude`` patterns."""
        if self.include and not _matches(self.include, url):
            return False
        return not _matches(self.exclude, url)

    def wants_title(self, title: str | None) -> bool:
        """Whether an item title passes ``include_title``/``exclude_title`` (an untitled item
        fails an ``include_title``, passes an ``exclude_title``)."""
        if self.include_title and not _matches(self.include_title, title or ""):
            return False
        return title is None or not _matches(self.exclude_title, title)

    def skip_reason(self, item: FeedItem, now: datetime) -> ItemFilter | None:
        """Why the source's filters leave ``item`` out (``None``: kept). Its age is its
        published date, else its updated date; an undated item is never too old."""
        if not self.wants(item.url):
            return ItemFilter.URL_FILTERED
        if not self.wants_title(item.title):
            return ItemFilter.TITLE_FILTERED
        when = item.published_at or item.updated_at
        if self.max_age_days is not None and when is not None:
            when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
            if when < now - timedelta(days=self.max_age_days):
                return ItemFilter.TOO_OLD
        return None

    def screen(self, now: datetime) -> Callable[[FeedItem], ItemFilter | None] | None:
        """:meth:`skip_reason` at ``now``, or ``None`` when the source filters nothing."""
        filters = (self.include, self.exclude, self.include_title, self.exclude_title)
        if not any(filters) and self.max_age_days is None:
            return None
        return lambda item: self.skip_reason(item, now)

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, schedule: str | None) -> str | None:
        return None if schedule is None else _check_cron(schedule)

    @model_validator(mode="after")
    def _one_schedule(self) -> SourceConfig:
        if self.schedule is not None and self.interval is not None:
            raise ValueError("give either schedule (cron) or interval (seconds), not both")
        if self.schedule is None and self.interval is None:
            raise ValueError("give a schedule (cron) or an interval (seconds)")
        return self


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceConfig]


def _duplicate_names(sources: list[SourceConfig]) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for index, source in enumerate(sources):
        if source.name in first:
            problems.append(
                f"entry {index + 1} ({source.name!r}), field name: already used by entry "
                f"{first[source.name] + 1}; names must be unique"
            )
        first.setdefault(source.name, index)
    return problems


def _describe(error: dict[str, Any], raw: Any) -> str:
    loc = list(error["loc"])
    where = "sources file"
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        index = loc[1]
        name = None
        if isinstance(raw, dict) and isinstance(raw.get("sources"), list):
            entry = raw["sources"][index] if index < len(raw["sources"]) else None
            name = entry.get("name") if isinstance(entry, dict) else None
        where = f"entry {index + 1}" + (f" ({name!r})" if name else "")
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or "(entry)"
    return f"{where}, field {field}: {error['msg']}"


def parse_sources(raw: Any, origin: str = "sources file") -> list[SourceConfig]:
    try:
        sources = SourcesFile.model_validate(raw).sources
    except ValidationError as exc:
        lines = [_describe(dict(err), raw) for err in exc.errors()]
    else:
        lines = _duplicate_names(sources)
        if not lines:
            return sources
    raise SourcesError(f"{origin} is invalid:\n  " + "\n  ".join(lines))


def load_sources(path: Path) -> list[SourceConfig]:
    """Read and validate a sources file; raise :class:`SourcesError` with a readable message."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SourcesError(f"{path} is not UTF-8 text: {exc}") from None
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path} is not valid YAML: {exc}") from None
    return parse_sources(raw, str(path))


def select_sources(sources: list[SourceConfig], names: list[str] | None) -> list[SourceConfig]:
    """The named sources (in the order given), or every enabled one when no name is given."""
    if not names:
        return [s for s in sources if s.enabled]
    by_name = {s.name: s for s in sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SourcesError(
            f"unknown source(s): {', '.join(unknown)}; known: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in names]
