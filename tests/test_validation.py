"""Unit tests: what a submit accepts and refuses, and how settings are read."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from herald.core.models import MessageCreate
from herald.core.settings import Settings


def test_recipient_is_normalized_to_e164() -> None:
    message = MessageCreate(recipient="+1 (415) 555-0123", content="hi")
    assert message.recipient == "+14155550123"


@pytest.mark.parametrize(
    ("fields", "field", "phrase"),
    [
        ({"recipient": "4155550123"}, "recipient", "E.164"),
        ({"recipient": "+1415"}, "recipient", "valid phone number"),
        ({"recipient": "+hello"}, "recipient", "not a phone number"),
        ({"content": ""}, "content", "at least 1"),
        ({"content": "x" * 1601}, "content", "at most 1600"),
        ({"priority": "urgent"}, "priority", "'high', 'normal' or 'low'"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_fields_are_refused_by_name(fields: dict[str, Any], field: str, phrase: str) -> None:
    body = {"recipient": "+14155550123", "content": "hi", **fields}
    with pytest.raises(ValidationError) as caught:
        MessageCreate.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"] == (field,)
    assert phrase in error["msg"]


def test_content_of_1600_characters_is_accepted() -> None:
    assert len(MessageCreate(recipient="+14155550123", content="x" * 1600).content) == 1600


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_API_KEYS", "one, two,,")
    monkeypatch.setenv("HERALD_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("HERALD_BASE_RETRY_DELAY_SECONDS", "0.5")
    settings = Settings(_env_file=None)
    assert settings.api_keys == ["one", "two"]
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.base_retry_delay_seconds == 0.5


def test_deliveries_go_to_the_simulator_unless_a_provider_is_set() -> None:
    settings = Settings(_env_file=None, simulator_port=8123)
    assert settings.effective_provider_url == "http://127.0.0.1:8123/deliver"
    custom = settings.model_copy(update={"provider_url": "https://sms.example/v1"})
    assert custom.effective_provider_url == "https://sms.example/v1"
