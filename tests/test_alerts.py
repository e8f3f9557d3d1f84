"""Alerts: ``newsflow deployments apply`` with ``NEWSFLOW_ALERT_BLOCK`` installs two Prefect
automations that notify through that block, against a real ``prefect server start``: a failing
``ingest-news`` run, and a source whose runs stored nothing N times in a row, each make the
server POST to a Custom Webhook block pointed at a loopback receiver. Re-applying updates the
automations in place (the block named by its name alone); unsetting the block removes them."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from flows.alerts import EMPTY_AUTOMATION, FAILED_AUTOMATION, empty_automation, failed_automation
from flows.outcome import EMPTY_EVENT, STREAK_LABEL
from tests.loopback import LoopbackServer, Route, rss_feed
from tests.test_serve import (  # noqa: F401 - fixtures
    RSS,
    SCRIPTS,
    call,
    clean_env,
    prefect_server,
    processes,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    """A loopback HTTP server that records the JSON bodies POSTed to it (the webhook's end)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_port}/hook"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- the automations, without a server ------------------------------------------------------------


def test_failed_automation_watches_newsflow_flow_runs_that_fail_or_crash() -> None:
    block = uuid4()
    automation = failed_automation(block)
    trigger = automation.trigger
    assert automation.name == FAILED_AUTOMATION
    assert trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert trigger.posture == "Reactive" and trigger.threshold == 1
    (related,) = (
        trigger.match_related
        if isinstance(trigger.match_related, list)
        else [trigger.match_related]
    )
    assert related.root == {  # the flow-run event's related flow, by name
        "prefect.resource.role": "flow",
        "prefect.resource.name": ["ingest-news", "backfill-news"],
    }
    (action,) = automation.actions
    assert (action.type, action.block_document_id) == ("send-notification", block)
    assert "flow_run.state.message" in action.body


def test_empty_automation_fires_when_the_streak_reaches_n() -> None:
    block = uuid4()
    automation = empty_automation(block, 4)
    trigger = automation.trigger
    assert automation.name == EMPTY_AUTOMATION
    assert trigger.expect == {EMPTY_EVENT}
    assert trigger.match.root[STREAK_LABEL] == "4"  # once per streak, when it reaches N
    assert trigger.for_each == {"prefect.resource.id"}
    (action,) = automation.actions
    assert action.block_document_id == block


# --- against a real server ------------------------------------------------------------------------


def newsflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / "newsflow"), *args],
        env=env,
        cwd=ROOT,  # `apply` deploys the code of the current directory
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def create_webhook_block(client: httpx.Client, name: str, url: str) -> str:
    """A Custom Webhook notification block POSTing ``{"subject": ..., "body": ...}`` to ``url``."""
    block_type = call(client, "GET", "/block_types/slug/custom-webhook").json()
    schemas = call(
        client,
        "POST",
        "/block_schemas/filter",
        json={"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}},
    ).json()
    data = {
        "name": name,
        "url": url,
        "method": "POST",
        "json_data": {"subject": "{{subject}}", "body": "{{body}}"},
    }
    document = call(
        client,
        "POST",
        "/block_documents/",
        json={
            "name": name,
            "block_type_id": block_type["id"],
            "block_schema_id": schemas[0]["id"],
            "data": data,
        },
    ).json()
    return str(document["id"])


def automations(client: httpx.Client) -> dict[str, dict[str, Any]]:
    found = call(client, "POST", "/automations/filter", json={"limit": 50}).json()
    return {a["name"]: a for a in found}


def notified(receiver: Receiver, needle: str, timeout: float) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        return next((p for p in receiver.posts if needle in p.get("subject", "")), None)

    return wait_for(seen, timeout, f"a notification whose subject has {needle!r}", 1)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_apply_installs_alerts_that_really_notify(
    prefect_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    api = prefect_server
    receiver = Receiver()
    site = LoopbackServer()
    site.routes["/empty.xml"] = Route(rss_feed("quiet", []), headers=RSS)  # "/gone.xml": 404
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - name: quiet-desk\n    feeds: [{site.url('/empty.xml')}]\n    interval: 3600\n"
        f"  - name: gone-desk\n    feeds: [{site.url('/gone.xml')}]\n    interval: 3600\n",
        encoding="utf-8",
    )
    env = clean_env(
        PREFECT_HOME=str(tmp_path / "cli-home"),
        PREFECT_API_URL=api,
        NEWSFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'news.db'}",
        NEWSFLOW_SOURCES=str(sources),
        NEWSFLOW_ZOMBIE_AFTER_SECONDS="0",
        NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
        NEWSFLOW_FETCH_DELAY="0",
        NEWSFLOW_EXTRACT_WORKERS="0",
        NEWSFLOW_ALERT_EMPTY_RUNS="2",
    )
    try:
        with httpx.Client(base_url=api, timeout=30) as client:
            missing = newsflow(["deployments", "apply"], env | {"NEWSFLOW_ALERT_BLOCK": "ops"})
            assert missing.returncode == 2, missing.stdout + missing.stderr
            assert "NEWSFLOW_ALERT_BLOCK=ops: no such block" in " ".join(missing.stderr.split())
            assert automations(client) == {}, "refused before anything was installed"

            block_id = create_webhook_block(client, "ops", receiver.url)
            env["NEWSFLOW_ALERT_BLOCK"] = "custom-webhook/ops"
            applied = newsflow(["deployments", "apply"], env)
            assert applied.returncode == 0, applied.stdout + applied.stderr
            installed = automations(client)
            assert set(installed) == {FAILED_AUTOMATION, EMPTY_AUTOMATION}
            for automation in installed.values():
                assert automation["enabled"]
                assert [(a["type"], a["block_document_id"]) for a in automation["actions"]] == [
                    ("send-notification", block_id)
                ]
            failed = installed[FAILED_AUTOMATION]["trigger"]
            assert set(failed["expect"]) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
            empty = installed[EMPTY_AUTOMATION]["trigger"]
            assert empty["expect"] == [EMPTY_EVENT] and empty["match"][STREAK_LABEL] == "2"

            # (a) a run that fails: the failure automation notifies, naming the run and why.
            gone = newsflow(["ingest", "gone-desk"], env)
            assert gone.returncode == 1, gone.stdout + gone.stderr
            post = notified(receiver, "gone-desk", 90)
            assert post["subject"].endswith("Failed"), post
            assert "of ingest-news ended Failed: source failed; 0 new" in post["body"], post
            assert "http_404" in post["body"], post

            # (b) two runs in a row that store nothing: one notification, at the second.
            for _ in range(2):
                quiet = newsflow(["ingest", "quiet-desk"], env)
                assert quiet.returncode == 0, quiet.stdout + quiet.stderr
            post = notified(receiver, "quiet-desk stored nothing in 2 runs", 90)
            assert (
                "its latest 2 runs in a row (the latest: completed: 0 new, 0 failed)"
                in (post["body"])
            ), post
            assert not any("quiet-desk" in p["subject"] for p in receiver.posts[:-1]), (
                "no notification at the first empty run"
            )

            # Re-applying updates in place (same ids, the new N); unsetting the block removes them.
            by_name = {"NEWSFLOW_ALERT_BLOCK": "ops", "NEWSFLOW_ALERT_EMPTY_RUNS": "3"}
            again = newsflow(["deployments", "apply"], env | by_name)  # the name alone will do
            assert again.returncode == 0, again.stdout + again.stderr
            updated = automations(client)
            assert {n: a["id"] for n, a in updated.items()} == {
                n: a["id"] for n, a in installed.items()
            }
            assert updated[EMPTY_AUTOMATION]["trigger"]["match"][STREAK_LABEL] == "3"
            assert updated[EMPTY_AUTOMATION]["actions"][0]["block_document_id"] == block_id
            unset = {k: v for k, v in env.items() if k != "NEWSFLOW_ALERT_BLOCK"}
            removed = newsflow(["deployments", "apply"], unset)
            assert removed.returncode == 0, removed.stdout + removed.stderr
            assert automations(client) == {}
    finally:
        receiver.close()
        site.close()


def test_readme_documents_every_setting() -> None:
    from flows.settings import Settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Settings") : readme.index("## Query")]
    missing = [f for f in Settings.model_fields if f"`NEWSFLOW_{f.upper()}`" not in table]
    assert not missing, f"not in README's Settings table: {missing}"


def test_readme_operate_names_the_automations_and_the_event() -> None:
    """What an operator reads in README "Operate" is what the UI's Automations page and Event
    Feed show."""
    from flows.deployments import ZOMBIE_AUTOMATION
    from flows.outcome import SOURCE_RESOURCE

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    operate = " ".join(readme[readme.index("## Operate") : readme.index("## Query")].split())
    for text in (FAILED_AUTOMATION, EMPTY_AUTOMATION, ZOMBIE_AUTOMATION):
        assert text in operate, text
    for text in (EMPTY_EVENT, STREAK_LABEL, f"{SOURCE_RESOURCE}<name>", "newsflow metrics"):
        assert f"`{text}" in operate, text
