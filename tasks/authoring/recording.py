"""Recorded sources (the Fundus pattern): a source's feed documents and a few of its pages saved
as raw bytes under ``tests/fixtures/<name>/``, with ``meta.json`` (URL, final URL, content type
of each file) and ``expected.json`` (what feed parsing and extraction made of them). Replaying a
recording runs the real parsing and extraction offline; a test compares it with the expectation.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.discover.discover import read_feeds
from tasks.discover.source import fetch_source_documents, read_source
from tasks.extract.extract import PageInput, extract_page
from tasks.fetch.fetch import FetchConfig
from tasks.fetch.hosts import HostRegistry
from tasks.fetch.polite import fetch_pages
from tasks.records import FetchOutcome, Reason
from tasks.sources import SourceConfig

META = "meta.json"
EXPECTED = "expected.json"
BODY_START = 200  # characters of the article text kept in expected.json
FEED_LIMIT = 10_000  # items read from a recorded feed


class RecordingError(Exception):
    """The source could not be recorded (no feed readable, or nothing to write over)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """One saved response."""

    file: str
    kind: str  # the fetch kind it was read as: feed | page
    url: str
    final_url: str
    content_type: str | None

    def outcome(self, directory: Path) -> FetchOutcome:
        """The response as the fetch layer returned it, body read from the recording."""
        body = (directory / self.file).read_bytes()
        return FetchOutcome(
            url=self.url,
            kind=self.kind,
            reason=Reason.OK,
            final_url=self.final_url,
            status_code=200,
            content_type=self.content_type,
            bytes_read=len(body),
            body=body,
        )


def is_recording(directory: Path) -> bool:
    return (directory / META).is_file() and (directory / EXPECTED).is_file()


def load_meta(directory: Path) -> list[Recorded]:
    meta = json.loads((directory / META).read_text(encoding="utf-8"))
    return [Recorded(**entry) for entry in meta["files"]]


def _date(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def replay_feed(recorded: Recorded, directory: Path) -> dict[str, Any]:
    read = read_feeds([recorded.outcome(directory)], FEED_LIMIT)
    items = [
        {"url": i.url, "title": i.title, "published_at": _date(i.published_at)} for i in read.items
    ]
    return {"file": recorded.file, "reason": read.outcomes[0].reason, "items": items}


def replay_page(recorded: Recorded, directory: Path) -> dict[str, Any]:
    fetched = recorded.outcome(directory)
    assert fetched.body is not None
    result = extract_page(PageInput(recorded.final_url, fetched.body, recorded.content_type))
    out: dict[str, Any] = {"file": recorded.file, "reason": result.reason}
    if result.article is not None:
        article = result.article
        out |= {
            "title": article.title,
            "published_at": _date(article.published_at),
            "authors": list(article.authors),
            "language": article.language,
            "word_count": article.word_count,
            "body_start": article.text[:BODY_START],
        }
    return out


def replay(directory: Path) -> dict[str, Any]:
    """What the pipeline's feed parsing and extraction make of a recording, offline."""
    recorded = load_meta(directory)
    return {
        "feeds": [replay_feed(r, directory) for r in recorded if r.kind == "feed"],
        "pages": [replay_page(r, directory) for r in recorded if r.kind == "page"],
    }


def _extension(content_type: str | None, kind: str) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if kind == "page":
        return ".html"
    return ".json" if media.endswith("json") else ".xml"


def _save(directory: Path, stem: str, outcome: FetchOutcome) -> Recorded:
    assert outcome.body is not None
    name = stem + _extension(outcome.content_type, outcome.kind)
    (directory / name).write_bytes(outcome.body)
    final = outcome.final_url or outcome.url
    return Recorded(name, outcome.kind, outcome.url, final, outcome.content_type)


def _dump(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def record_source(
    source: SourceConfig, config: FetchConfig, directory: Path, pages: int = 3, force: bool = False
) -> dict[str, Any]:
    """Fetch the source's feeds and its first ``pages`` items that answer, save them under
    ``directory`` and write the expectation; returns it."""
    if directory.exists() and any(directory.iterdir()) and not force:
        raise RecordingError(f"{directory} is not empty (overwrite it with --force)")
    hosts = HostRegistry(config.host_max_failures)
    feeds = fetch_source_documents(source, config, hosts)
    found = read_source(source, feeds, FEED_LIMIT, config, hosts)
    if found.feeds_ok == 0:
        raise RecordingError("no feed could be read: " + "; ".join(found.errors))
    fetched = fetch_pages([item.url for item in found.items[: pages * 2]], config, hosts=hosts)
    answered = [f for f in fetched if f.ok and f.body is not None][:pages]
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    files = [_save(directory, f"feed-{i}", f) for i, f in enumerate(feeds) if f.ok and f.body]
    files += [_save(directory, f"page-{i}", f) for i, f in enumerate(answered)]
    recorded_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    files_meta = [dataclasses.asdict(r) for r in files]
    _dump(
        directory / META, {"source": source.name, "recorded_at": recorded_at, "files": files_meta}
    )
    expected = replay(directory)
    _dump(directory / EXPECTED, expected)
    return expected
