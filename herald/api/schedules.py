"""Scheduled sends (``send_at``): in the future, at most ``HERALD_MAX_SCHEDULE_DAYS`` ahead,
and never strictly ordered (a line cannot wait for one message's date)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from fastapi.exceptions import RequestValidationError

from herald.core.models import MessageCreate, utcnow
from herald.core.settings import Settings

__all__ = ["refuse_bad_schedules"]


def refuse_bad_schedules(
    messages: Sequence[MessageCreate], settings: Settings, *, in_batch: bool
) -> None:
    """422 for each ``send_at`` in the past, too far ahead, or on a strict message."""
    now = utcnow()
    latest = now + timedelta(days=settings.max_schedule_days)
    errors: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.send_at is None:
            continue
        problem = None
        if message.send_at <= now:
            problem = "is in the past; leave send_at out to send at once"
        elif message.send_at > latest:
            problem = (
                f"is more than {settings.max_schedule_days:g} days ahead (HERALD_MAX_SCHEDULE_DAYS)"
            )
        elif (message.ordering or settings.ordering_mode) == "strict":
            problem = "cannot be set on a strictly ordered message; use ordering best_effort"
        if problem is not None:
            where = ("body", "messages", index, "send_at") if in_batch else ("body", "send_at")
            errors.append({"type": "value_error", "loc": where, "msg": f"send_at {problem}"})
    if errors:
        raise RequestValidationError(errors)
