"""What the Temporal Web UI says about a message: its workflow's current details (the
``status`` query's :class:`MessageView`, in words), with what an operator can do next.

Sandbox-safe: the workflow renders it each time its status changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from herald.core.contract import CHANGEABLE_STATUSES, TERMINAL_STATUSES, MessageStatus

__all__ = ["MessageView", "explain"]


@dataclass(frozen=True)
class MessageView:
    """The answer of a message workflow's ``status`` query."""

    message_id: str
    status: MessageStatus
    last_failure: str | None = None
    send_at: datetime | None = None
    retention_ends: datetime | None = None
    """A dead letter's: when it expires unless requeued or discarded."""


def explain(view: MessageView) -> str:
    """The current details: markdown the Web UI shows on the workflow's page."""
    lines = [f"**Status:** `{view.status.value}`"]
    if view.last_failure is not None:
        lines.append(f"**Last failure:** {view.last_failure}")
    lines.append(f"**Next:** {_next_step(view)}")
    return "\n\n".join(lines)


def _next_step(view: MessageView) -> str:
    message = f"/v1/messages/{view.message_id}"
    dead_letter = f"/v1/dead-letters/{view.message_id}"
    if view.status in TERMINAL_STATUSES:
        return "nothing: the message is finished."
    if view.status == MessageStatus.DEAD_LETTERED:
        expires = f" before {view.retention_ends.isoformat()}" if view.retention_ends else ""
        return (
            f"requeue it with `POST {dead_letter}/requeue`, or discard it with "
            f"`DELETE {dead_letter}`{expires}; after that it expires."
        )
    if view.status == MessageStatus.AWAITING_ACK:
        return (
            f"the gateway's acknowledgment (`POST {message}/ack`); without it in time, "
            "the message is sent again."
        )
    when = (
        f"it is sent at {view.send_at.isoformat()}; "
        if view.status == MessageStatus.SCHEDULED and view.send_at
        else ""
    )
    if view.status in CHANGEABLE_STATUSES:
        return (
            f"{when}cancel it with `POST {message}/cancel`, or change its priority with "
            f"`PATCH {message}`."
        )
    return "an attempt is under way."
