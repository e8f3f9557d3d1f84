"""The sources registry: ``sources.yaml`` validated by a typed model, with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasks.urls import canonicalize_url

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class SourcesError(Exception):
    """The sources file cannot be used; the message names the entry and the field."""


def _check_cron(expression: str) -> str:
    from cronsim import CronSim, CronSimError

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r} must have 5 fields")
    try:
        CronSim(expression, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    return expression


class SourceConfig(BaseModel):
    """One news source: a stable slug, its feeds and when to ingest it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    feeds: list[str] = Field(min_length=1)
    schedule: str | None = None
    interval: int | None = Field(default=None, ge=60)
    enabled: bool = True
    delay: float | None = Field(default=None, ge=0, description="politeness delay per host, s")
    max_items: int | None = Field(default=None, ge=1)

    @field_validator("feeds")
    @classmethod
    def _feeds_are_urls(cls, feeds: list[str]) -> list[str]:
        for feed in feeds:
            if canonicalize_url(feed) is None:
                raise ValueError(f"{feed!r} is not an http(s) URL")
        return feeds

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
