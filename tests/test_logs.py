"""Unit tests: structured log lines carry their fields as key=value."""

from __future__ import annotations

import logging

from herald.core.logs import FORMAT, KeyValueFormatter


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
