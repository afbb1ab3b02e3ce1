"""What the Temporal Web UI shows of a message: its summary, its current details with the
next step, and the ``status`` query; times in its input as ISO 8601."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from herald.core.contract import workflow_id_for
from herald.workflows.delivery import MessageDelivery
from tests.stack import Stack


async def current_details(client: Client, message_id: str) -> str:
    handle = client.get_workflow_handle(workflow_id_for(message_id))
    metadata = await handle.query("__temporal_workflow_metadata")
    details: str = metadata.current_details
    return details


async def test_a_dead_letter_says_what_to_do_next(stack: Stack, temporal_client: Client) -> None:
    stack.gateway.answer(400)
    message = await stack.submit(recipient="+14155550123", priority="high")
    await stack.wait_for_status(message["id"], "dead_lettered")
    handle = temporal_client.get_workflow_handle(workflow_id_for(message["id"]))

    summary = await (await handle.describe()).static_summary()
    assert summary is not None
    assert "+14155550123" in summary and "high priority" in summary and "best effort" in summary

    view = await handle.query(MessageDelivery.status)
    assert view.status == "dead_lettered"
    assert view.last_failure is not None and view.last_failure.startswith("permanent: ")
    assert view.retention_ends is not None

    details = await current_details(temporal_client, message["id"])
    assert "**Status:** `dead_lettered`" in details
    assert f"POST /v1/dead-letters/{message['id']}/requeue" in details

    history = await handle.fetch_history()
    started = next(
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    )
    job = json.loads(started.workflow_execution_started_event_attributes.input.payloads[0].data)
    assert isinstance(job["expires_at"], str), "an ISO 8601 time, not a Unix float"
    assert datetime.fromisoformat(job["expires_at"]).utcoffset() == timedelta(0)


async def test_a_delivered_message_is_finished(stack: Stack, temporal_client: Client) -> None:
    message = await stack.submit()
    await stack.wait_for_status(message["id"], "awaiting_ack")
    assert "POST /v1/messages/" in await current_details(temporal_client, message["id"])
    assert (await stack.api.post(f"/v1/messages/{message['id']}/ack")).status_code == 200
    await stack.wait_for_status(message["id"], "delivered")
    assert "finished" in await current_details(temporal_client, message["id"])
