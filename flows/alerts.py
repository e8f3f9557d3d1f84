"""Alerts through a Prefect notification block (Slack, e-mail, a webhook, ...), installed by
``newsflow deployments apply`` as two Prefect automations:

- a newsflow flow run (``ingest-news``, ``backfill-news``) ended Failed or Crashed;
- a source's latest N runs in a row stored nothing. Every ``ingest-news`` run emits, per source
  whose streak of such runs is not zero, the event ``newsflow.source.empty``
  (``flows.outcome.emit_empty_streaks``) with the streak read from the database
  (``storage.health.empty_streaks``, the count ``newsflow metrics`` exports) as a resource
  label; the automation fires on the event whose streak is exactly N: once per streak, not on
  every later empty run.

The thresholds live on the server (in the automation), so workers need no alert settings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flows.deployments import DeploymentsError, sync_automation
from flows.outcome import EMPTY_EVENT, SOURCE_RESOURCE, STREAK_LABEL

FLOWS = ("ingest-news", "backfill-news")
FAILED_AUTOMATION = "newsflow: notify when a flow run fails or crashes"
EMPTY_AUTOMATION = "newsflow: notify when a source stores nothing for N runs in a row"

FAILED_SUBJECT = "newsflow: {{ flow_run.name }} {{ flow_run.state.name }}"
FAILED_BODY = (
    "Flow run {{ flow_run.name }} of {{ flow.name }} ended {{ flow_run.state.name }}:"
    " {{ flow_run.state.message }}"
    "{% set link = flow_run|ui_url %}{% if link %}\n{{ link }}{% endif %}"
)
EMPTY_SUBJECT = (
    "newsflow: {{ event.payload.source }} stored nothing in {{ event.payload.empty_runs }} runs"
)
EMPTY_BODY = (
    "Source {{ event.payload.source }} has stored no new article in its latest"
    " {{ event.payload.empty_runs }} runs in a row (the latest: {{ event.payload.status }}:"
    " {{ event.payload.message }}). `newsflow stats` says why a source fails."
)


def notify(block_id: UUID, subject: str, body: str) -> Any:
    from prefect.events.actions import SendNotification

    return SendNotification(block_document_id=block_id, subject=subject, body=body)


def failed_automation(block_id: UUID) -> Any:
    """A newsflow flow run's state became Failed or Crashed (a crash marked by the zombie-run
    automation included)."""
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=FAILED_AUTOMATION,
        description="Created by `newsflow deployments apply` (NEWSFLOW_ALERT_BLOCK).",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": list(FLOWS)}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[notify(block_id, FAILED_SUBJECT, FAILED_BODY)],
    )


def empty_automation(block_id: UUID, empty_runs: int) -> Any:
    """A source's streak of runs that stored nothing reached ``empty_runs``."""
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=EMPTY_AUTOMATION,
        description=(
            f"Created by `newsflow deployments apply` (NEWSFLOW_ALERT_EMPTY_RUNS={empty_runs})."
        ),
        trigger=EventTrigger(
            expect={EMPTY_EVENT},
            match=ResourceSpecification(
                {"prefect.resource.id": SOURCE_RESOURCE + "*", STREAK_LABEL: str(empty_runs)}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[notify(block_id, EMPTY_SUBJECT, EMPTY_BODY)],
    )


def find_block(reference: str) -> UUID:
    """The notification block's id: ``<block-type-slug>/<name>``, or a name only one notification
    block has."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    slug, _, name = reference.rpartition("/")
    with get_client(sync_client=True) as client:
        if slug:
            try:
                document = client.read_block_document_by_name(name, slug, include_secrets=False)
            except ObjectNotFound:
                document = None
            found = [document] if document is not None else []
        else:
            found = [
                d for d in client.read_block_documents(include_secrets=False) if d.name == name
            ]
    notifying = [d for d in found if d.block_schema and "notify" in d.block_schema.capabilities]
    if not found:
        raise DeploymentsError(
            f"NEWSFLOW_ALERT_BLOCK={reference}: no such block on the server (`prefect block ls`"
            " lists them; create one in the UI's Blocks page, e.g. a Slack Webhook or Custom"
            " Webhook)"
        )
    if not notifying:
        raise DeploymentsError(
            f"NEWSFLOW_ALERT_BLOCK={reference}: not a notification block (it cannot notify)"
        )
    if len(notifying) > 1:
        kinds = ", ".join(sorted(f"{d.block_type.slug}/{name}" for d in notifying if d.block_type))
        raise DeploymentsError(
            f"NEWSFLOW_ALERT_BLOCK={reference} is ambiguous: name one of {kinds}"
        )
    return notifying[0].id


def ensure_alerts(block_id: UUID | None, empty_runs: int) -> dict[str, str]:
    """Install, update or remove the two alert automations: with no block both go, with
    ``empty_runs`` 0 the empty-source one. Automation name -> what was done (``created``,
    ``updated``, ``removed``, ``off``)."""
    if block_id is None:
        return {name: sync_automation(name, None) for name in (FAILED_AUTOMATION, EMPTY_AUTOMATION)}
    empty = empty_automation(block_id, empty_runs) if empty_runs > 0 else None
    return {
        FAILED_AUTOMATION: sync_automation(FAILED_AUTOMATION, failed_automation(block_id)),
        EMPTY_AUTOMATION: sync_automation(EMPTY_AUTOMATION, empty),
    }
