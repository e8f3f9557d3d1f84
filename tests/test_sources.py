"""The sources registry: the shipped ``sources.yaml``, validation messages and selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tasks.sources import SourceConfig, SourcesError, load_sources, parse_sources, select_sources

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "sources.yaml"
GOOD = {"name": "first-source", "feeds": ["https://news.example.test/rss"], "interval": 600}


@pytest.fixture(scope="module")
def shipped() -> list[SourceConfig]:
    return load_sources(SHIPPED)


def source(name: str, *, enabled: bool = True) -> SourceConfig:
    return SourceConfig(
        name=name, feeds=[f"https://{name}.example.test/rss"], interval=600, enabled=enabled
    )


# -- the shipped sources.yaml -----------------------------------------------------------------


def test_load_sources_shipped_file_has_ten_enabled_sources(shipped: list[SourceConfig]) -> None:
    assert len([s for s in shipped if s.enabled]) >= 10


def test_load_sources_shipped_file_names_unique(shipped: list[SourceConfig]) -> None:
    names = [s.name for s in shipped]
    assert len(names) == len(set(names))


def test_load_sources_shipped_file_feeds_are_https(shipped: list[SourceConfig]) -> None:
    feeds = [feed for s in shipped for feed in s.feeds]
    assert [f for f in feeds if urlsplit(f).scheme != "https" or not urlsplit(f).hostname] == []


def test_load_sources_shipped_file_every_source_scheduled(shipped: list[SourceConfig]) -> None:
    assert [s.name for s in shipped if s.schedule is None and s.interval is None] == []


# -- invalid entries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "name", "field"),
    [
        pytest.param({**GOOD, "name": "Bad Slug!"}, "Bad Slug!", "name", id="bad-slug"),
        pytest.param({**GOOD, "name": "bad-feeds", "feeds": []}, "bad-feeds", "feeds", id="empty"),
        pytest.param(
            {**GOOD, "name": "not-url", "feeds": ["news.example.test/rss"]},
            "not-url",
            "feeds",
            id="non-url-feed",
        ),
        pytest.param(
            {"name": "cron", "feeds": GOOD["feeds"], "schedule": "every hour"},
            "cron",
            "schedule",
            id="bad-cron",
        ),
        pytest.param(
            {"name": "cron-range", "feeds": GOOD["feeds"], "schedule": "61 * * * *"},
            "cron-range",
            "schedule",
            id="cron-out-of-range",
        ),
        pytest.param({**GOOD, "name": "fast", "interval": 30}, "fast", "interval", id="interval"),
        pytest.param(
            {**GOOD, "name": "typo", "feeds_url": "https://news.example.test/rss"},
            "typo",
            "feeds_url",
            id="unknown-field",
        ),
        pytest.param(
            {**GOOD},
            GOOD["name"],
            "name",
            id="duplicate-name",
        ),
    ],
)
def test_parse_sources_invalid_entry_names_entry_source_and_field(
    entry: dict[str, Any], name: str, field: str
) -> None:
    with pytest.raises(SourcesError) as excinfo:
        parse_sources({"sources": [GOOD, entry]})
    assert f"entry 2 ({name!r}), field {field}:" in str(excinfo.value)


def test_parse_sources_schedule_and_interval_both_rejected() -> None:
    entry = {**GOOD, "name": "both", "schedule": "0 * * * *"}
    with pytest.raises(SourcesError) as excinfo:
        parse_sources({"sources": [GOOD, entry]})
    message = str(excinfo.value)
    assert "entry 2 ('both')" in message
    assert "schedule" in message and "interval" in message


def test_parse_sources_unscheduled_source_rejected() -> None:
    entry = {"name": "never", "feeds": ["https://news.example.test/rss"]}
    with pytest.raises(SourcesError) as excinfo:
        parse_sources({"sources": [GOOD, entry]})
    assert "entry 2 ('never')" in str(excinfo.value)
    assert "schedule (cron) or an interval" in str(excinfo.value)


def test_load_sources_invalid_yaml_raises_sources_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - name: a\n    feeds: [https://a.example.test/rss\n", "utf-8")
    with pytest.raises(SourcesError, match="not valid YAML"):
        load_sources(path)


def test_load_sources_missing_file_raises_sources_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read sources file"):
        load_sources(tmp_path / "nope.yaml")


def test_load_sources_invalid_entry_names_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - name: a\n    feeds: []\n", "utf-8")
    with pytest.raises(SourcesError) as excinfo:
        load_sources(path)
    assert str(path) in str(excinfo.value)
    assert "entry 1 ('a'), field feeds:" in str(excinfo.value)


def test_load_sources_non_utf8_file_raises_sources_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes("# Zürich desk\nsources: []\n".encode("latin-1"))
    with pytest.raises(SourcesError):
        load_sources(path)


# -- select_sources ---------------------------------------------------------------------------


def test_select_sources_unknown_name_raises_naming_it() -> None:
    with pytest.raises(SourcesError, match=r"unknown source.*no-such-source"):
        select_sources([source("a"), source("b")], ["a", "no-such-source"])


@pytest.mark.parametrize("names", [None, []])
def test_select_sources_no_names_gives_enabled_only(names: list[str] | None) -> None:
    sources = [source("a"), source("off", enabled=False), source("b")]
    assert [s.name for s in select_sources(sources, names)] == ["a", "b"]


def test_select_sources_names_keep_given_order() -> None:
    sources = [source("a"), source("b"), source("c")]
    assert [s.name for s in select_sources(sources, ["c", "a"])] == ["c", "a"]


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        pytest.param({"interval": 10**20}, "interval", id="interval-1e20"),
        pytest.param({"interval": 10**13}, "interval", id="interval-past-prefect"),
        pytest.param({"interval": 31 * 24 * 3600}, "interval", id="interval-over-30-days"),
        pytest.param({"schedule": "0 0 LW * *"}, "schedule", id="cron-LW"),
        pytest.param({"schedule": "0 0 * * 5L"}, "schedule", id="cron-5L"),
        pytest.param({"schedule": "0 0 L * 5#9"}, "schedule", id="cron-hash-9"),
    ],
)
def test_parse_sources_schedule_prefect_refuses_is_rejected_naming_entry_and_field(
    schedule: dict[str, Any], field: str
) -> None:
    entry = {"name": "odd", "feeds": ["https://news.example.test/rss"], **schedule}
    with pytest.raises(SourcesError) as excinfo:
        parse_sources({"sources": [GOOD, entry]})
    assert f"entry 2 ('odd'), field {field}:" in str(excinfo.value)


@pytest.mark.parametrize(
    "schedule",
    [
        {"interval": 60},
        {"interval": 30 * 24 * 3600},
        {"schedule": "*/15 * * * *"},
        {"schedule": "0 6 L * *"},
        {"schedule": "0 9 * * 1#2"},
        {"schedule": "30 4 1,15 * mon-fri"},
    ],
)
def test_parse_sources_accepted_schedule_is_one_prefect_builds(schedule: dict[str, Any]) -> None:
    from prefect.deployments.schedules import create_deployment_schedule_create

    from flows.serve import schedule_of

    entry = {"name": "fine", "feeds": ["https://news.example.test/rss"], **schedule}
    (_, parsed) = parse_sources({"sources": [GOOD, entry]})

    created = create_deployment_schedule_create(schedule_of(parsed))  # as `newsflow serve` does

    assert created.schedule is not None
