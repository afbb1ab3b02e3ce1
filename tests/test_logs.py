"""Structured log lines carry their fields as key=value, and an expected failure is one
line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from herald.core.logs import FORMAT, KeyValueFormatter
from tests.stack import Stack
from tests.tenancy import as_key, new_tenant


def line(message: str, **extra: object) -> str:
    record = logging.LogRecord("herald.test", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return KeyValueFormatter(FORMAT).format(record)


def test_fields_follow_the_event_name() -> None:
    text = line(
        "retry scheduled", message_id="abc", delay_seconds=2.0, reason="provider answered 503"
    )
    assert text.endswith(
        'herald.test: retry scheduled message_id=abc delay_seconds=2 reason="provider answered 503"'
    )


def test_library_context_is_left_out() -> None:
    text = line(
        "started",
        temporal_workflow={"workflow_id": "message-1"},
        color_message="\x1b[36mstarted\x1b[0m",
    )
    assert text.endswith("herald.test: started")


@pytest.mark.parametrize("status", [503, 400])
async def test_an_expected_delivery_failure_is_one_line_without_a_traceback(
    stack: Stack, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    stack.gateway.answer(status)
    message = await stack.submit()
    await stack.gateway.wait_for(message["id"], 1)
    await stack.wait_for_status(message["id"], "retrying" if status == 503 else "dead_lettered")
    await asyncio.sleep(0.5)  # the SDK logs the failed activity as it reports it
    about_it = [r for r in caplog.records if r.levelno >= logging.INFO and r.exc_info]
    assert about_it == [], [r.getMessage() for r in about_it]
    failures = [
        r.getMessage()
        for r in caplog.records
        if getattr(r, "message_id", None) == message["id"] and r.levelno == logging.WARNING
    ]
    assert len(failures) == 1, failures


async def test_operator_actions_log_who_did_them(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    operator = await new_tenant(stack.api, "messages:write", "dead_letters:write")
    stack.gateway.answer(400)
    async with as_key(stack.api, operator.key) as client:
        response = await client.post(
            "/v1/messages", json={"recipient": "+14155550123", "content": "hi"}
        )
        message_id = response.json()["id"]
        await stack.wait_for_status(message_id, "dead_lettered")
        assert (await client.delete(f"/v1/dead-letters/{message_id}")).status_code == 200
    actions = [r for r in caplog.records if r.getMessage() == "operator action"]
    assert [(r.action, r.key_id, r.message_id, r.outcome) for r in actions] == [  # type: ignore[attr-defined]
        ("discard", operator.key_id, message_id, "discarded")
    ]
    lines = [KeyValueFormatter(FORMAT).format(record) for record in caplog.records]
    assert not [line for line in lines if operator.key in line], "a key must never be logged"
