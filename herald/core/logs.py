"""Structured log lines: an event name, then ``key=value`` fields.

Code logs ``log.info("retry scheduled", extra={"message_id": ..., "delay_seconds": ...})``;
:class:`KeyValueFormatter` appends every ``extra`` field, so each line can be grepped by field
(``message_id=...``) and parsed by a log pipeline.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["KeyValueFormatter", "configure_logging"]

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_STANDARD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_SDK_CONTEXT = frozenset({"temporal_workflow", "temporal_activity"})
"""Dicts the Temporal SDK attaches; the ids in them are already in Herald's own fields."""


def _render(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f'"{text}"' if " " in text or not text else text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_FIELDS and key not in _SDK_CONTEXT
        }
        if not fields:
            return line
        return line + " " + " ".join(f"{key}={_render(value)}" for key, value in fields.items())


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per delivery otherwise
