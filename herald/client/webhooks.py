"""The receiving end of Herald's outcome webhooks: check a POST's Standard Webhooks
signature with the endpoint's secret, and read its event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from herald.core.webhooks import InvalidSignature, verify

__all__ = ["InvalidSignature", "verify_webhook"]


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The event (``{type, timestamp, data}``) if ``headers`` prove Herald signed ``body``
    with ``secret`` (the endpoint's ``whsec_...``) within five minutes; else
    :class:`InvalidSignature`. Keep the ``webhook-id`` to drop an event received twice (it
    is the same on every retry)."""
    verify(secret, headers, body)
    event: dict[str, Any] = json.loads(body)
    return event
