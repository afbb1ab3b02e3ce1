"""What client text may hold: no control characters but newline and tab, bounded metadata.

PostgreSQL refuses NUL in ``text`` and ``jsonb``, so it must be refused as a 422 before it
reaches the database; the other control characters only hide or garble text on a phone.
(Pydantic already refuses an unpaired surrogate in a string.) Metadata is bounded as Stripe bounds
it, so a request cannot make a message's row, or an error listing its faults, arbitrarily big.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MAX_METADATA_KEYS",
    "MAX_METADATA_KEY_LENGTH",
    "MAX_METADATA_VALUE_LENGTH",
    "METADATA_JSON_SCHEMA",
    "PRINTABLE_TEXT_PATTERN",
    "check_metadata",
    "refuse_control_characters",
]

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500

_CONTROL_CHARACTERS = r"\x00-\x08\x0b-\x1f\x7f-\x9f"
PRINTABLE_TEXT_PATTERN = f"^[^{_CONTROL_CHARACTERS}]*$"
"""Text without control characters but newline and tab, as the OpenAPI schema states it."""
METADATA_JSON_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_METADATA_KEYS,
    "propertyNames": {
        "minLength": 1,
        "maxLength": MAX_METADATA_KEY_LENGTH,
        "pattern": PRINTABLE_TEXT_PATTERN,
    },
    "additionalProperties": {
        "type": "string",
        "maxLength": MAX_METADATA_VALUE_LENGTH,
        "pattern": PRINTABLE_TEXT_PATTERN,
    },
}
_REFUSED = re.compile(f"[{_CONTROL_CHARACTERS}]")


def refuse_control_characters(value: str) -> str:
    """``value`` unchanged; ``ValueError`` naming the first refused character and its
    position (from 0)."""
    refused = _REFUSED.search(value)
    if refused is None:
        return value
    raise ValueError(
        f"control character U+{ord(refused.group()):04X} at position {refused.start()} "
        "is not allowed; only newline and tab are"
    )


def check_metadata(metadata: Any) -> Any:
    """``metadata`` unchanged if it is within bounds; otherwise ``ValueError`` for its first
    fault, naming the key. Checked before the items are validated one by one, so a huge or
    wrong mapping costs one error, not one per item."""
    if not isinstance(metadata, dict):
        return metadata  # not a mapping at all: the type check says so
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys, this has {len(metadata)}")
    for key, value in metadata.items():
        _check_entry(key, value)
    return metadata


def _check_entry(key: Any, value: Any) -> None:
    if not isinstance(key, str):
        raise ValueError("keys are strings")
    named = f"key {_shortened(key)!r}"
    if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
        raise ValueError(
            f"{named}: a key has 1 to {MAX_METADATA_KEY_LENGTH} characters, this one {len(key)}"
        )
    _refuse_control_characters_in(key, named)
    if not isinstance(value, str):
        raise ValueError(f"value of {named}: values are strings, not {_json_type(value)}")
    if len(value) > MAX_METADATA_VALUE_LENGTH:
        raise ValueError(
            f"value of {named}: a value has at most {MAX_METADATA_VALUE_LENGTH} characters, "
            f"this one {len(value)}"
        )
    _refuse_control_characters_in(value, f"value of {named}")


def _refuse_control_characters_in(text: str, named: str) -> None:
    try:
        refuse_control_characters(text)
    except ValueError as refused:
        raise ValueError(f"{named}: {refused}") from None


def _shortened(key: str) -> str:
    limit = MAX_METADATA_KEY_LENGTH
    return key if len(key) <= limit else key[:limit] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"
