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
_LIBRARY_EXTRAS = frozenset({"temporal_workflow", "temporal_activity", "color_message"})
"""What libraries attach for their own formatters: the Temporal SDK's context dicts (the ids
in them are in Herald's own fields) and uvicorn's coloured copy of the message."""


def _render(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f'"{text}"' if " " in text or not text else text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_FIELDS and key not in _LIBRARY_EXTRAS
        }
        if not fields:
            return line
        return line + " " + " ".join(f"{key}={_render(value)}" for key, value in fields.items())


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per delivery otherwise
