"""Schemathesis hooks for ``tests/test_openapi_fuzz.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

A string that matches the E.164 pattern is seldom a number in service, which phonenumbers
refuses; so without this almost every generated submit would stop at the recipient's 422 and
never reach PostgreSQL. Positive cases get a valid recipient instead; negative ones are left
as generated, so they stay invalid.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import GenerationMode

RECIPIENT = "+442071838750"
"""A valid number no other test uses (a strict line of its own would wait for no worker)."""


@schemathesis.hook
def map_case(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> schemathesis.Case[Any]:
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return case
    for message in _messages(case.body):
        if isinstance(message, dict) and "recipient" in message:
            message["recipient"] = RECIPIENT
    return case


def _messages(body: Any) -> list[Any]:
    """The submitted messages in a body: itself (a submit) or its ``messages`` (a batch)."""
    if not isinstance(body, dict):
        return []
    batch = body.get("messages")
    return batch if isinstance(batch, list) else [body]
