"""How Temporal payloads are converted: JSON through pydantic, with one cache per process.

The SDK's default JSON converter resolves a dataclass's type hints and walks it field by
field on every conversion; pydantic-core validates from a schema built once per type. The
JSON has the same shape (times end in ``Z`` rather than ``+00:00``), and each converter
reads the other's: histories written before replay, and a client on the default converter
reads what Herald writes (``tests/test_payloads.py``).
"""

from __future__ import annotations

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

__all__ = ["DATA_CONVERTER", "PayloadConverter"]

_JSON = PydanticJSONPlainPayloadConverter()
"""One for the process: it caches a pydantic ``TypeAdapter`` per type, which takes about a
millisecond to build, and the SDK makes a new payload converter for every workflow run (the
SDK's own pydantic converter, one cache per instance, cost more than it saved)."""


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default converters, with pydantic's JSON in place of its own."""

    def __init__(self) -> None:
        super().__init__(
            *(
                _JSON if isinstance(converter, JSONPlainPayloadConverter) else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
