"""The OpenAPI document tells the truth about errors: each route lists the problems it can
answer, as ``application/problem+json`` with a schema, and no others."""

from __future__ import annotations

from typing import Any

import pytest

from herald.api.app import create_app
from herald.core.settings import Settings

E164 = r"^\+[1-9][0-9]{1,14}$"
BODY = {400, 413, 422}
"""What a route reading a JSON body can answer about it."""
V1 = {401, 403, 503}
"""What every ``/v1`` route can answer: no valid key; a key without the scope; PostgreSQL
(or Temporal) down."""
ONE_MESSAGE = {404, 422}
"""What a route taking a message id can answer: no such message; not a UUID."""

ERRORS: dict[tuple[str, str], set[int]] = {
    ("post", "/v1/messages"): V1 | BODY | {409, 429},
    ("post", "/v1/messages/batch"): V1 | BODY | {429},
    ("get", "/v1/messages"): V1 | {422},
    ("get", "/v1/messages/{message_id}"): V1 | ONE_MESSAGE,
    ("post", "/v1/messages/ack"): V1 | BODY,
    ("post", "/v1/messages/{message_id}/ack"): V1 | ONE_MESSAGE | {409},
    ("get", "/v1/dead-letters"): V1 | {422},
    ("post", "/v1/dead-letters/requeue"): V1 | BODY,
    ("post", "/v1/dead-letters/{message_id}/requeue"): V1 | ONE_MESSAGE | {409},
    ("delete", "/v1/dead-letters/{message_id}"): V1 | ONE_MESSAGE | {409},
    ("get", "/v1/circuit-breakers"): V1,
    ("get", "/v1/metrics"): V1 | {422},
    ("post", "/v1/tenants"): V1 | BODY | {409},
    ("get", "/v1/tenants"): V1,
    ("post", "/v1/api-keys"): V1 | BODY | {404},
    ("get", "/v1/api-keys"): V1 | {422},
    ("delete", "/v1/api-keys/{key_id}"): V1 | {404, 422},
    ("post", "/v1/messages/cancel"): V1 | BODY,
    ("post", "/v1/messages/{message_id}/cancel"): V1 | ONE_MESSAGE | {409},
    ("patch", "/v1/messages/{message_id}"): V1 | ONE_MESSAGE | BODY | {409},
    ("get", "/v1/messages/{message_id}/attempts"): V1 | ONE_MESSAGE,
    ("get", "/v1/messages/{message_id}/webhook-sends"): V1 | ONE_MESSAGE,
    ("get", "/v1/me"): V1,
    ("put", "/v1/suppressions/{recipient}"): V1 | BODY | {404},
    ("get", "/v1/suppressions"): V1 | {422},
    ("delete", "/v1/suppressions/{recipient}"): V1 | {404, 422},
    ("post", "/v1/webhooks"): V1 | BODY | {409},
    ("get", "/v1/webhooks"): V1 | {422},
    ("get", "/v1/webhooks/{endpoint_id}"): V1 | {404, 422},
    ("delete", "/v1/webhooks/{endpoint_id}"): V1 | {404, 422},
    ("get", "/metrics"): set(),
    ("get", "/health/ready"): {503},
    ("get", "/health/live"): set(),
}
EXTENSIONS = {422: "errors", 409: "current_status"}
"""The extension a problem of that status carries on a route about one message."""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    openapi: dict[str, Any] = create_app(Settings(_env_file=None)).openapi()
    return openapi


def schema_of(document: dict[str, Any], reference: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][reference["$ref"].rsplit("/")[-1]]
    return found


def test_each_route_documents_exactly_the_errors_it_can_answer(document: dict[str, Any]) -> None:
    documented = {
        (method, path): {int(status) for status in operation["responses"] if int(status) >= 400}
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == ERRORS


def test_every_error_is_problem_json_with_its_extensions(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                [(media_type, content)] = response["content"].items()
                assert media_type == "application/problem+json", (path, status)
                schema = schema_of(document, content["schema"])
                required = set(schema["required"])
                assert {"type", "title", "status", "detail", "instance"} <= required
                if path.endswith("{message_id}") or path.endswith("/ack"):
                    extension = EXTENSIONS.get(int(status))
                    assert extension is None or extension in required, (path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_retry_after_and_www_authenticate_are_documented(document: dict[str, Any]) -> None:
    submit = document["paths"]["/v1/messages"]["post"]["responses"]
    assert submit["429"]["headers"]["Retry-After"]["required"] is True
    assert submit["503"]["headers"]["Retry-After"]["required"] is True
    assert submit["401"]["headers"]["WWW-Authenticate"]["required"] is True
    ready = document["paths"]["/health/ready"]["get"]["responses"]["503"]
    assert (
        "checks"
        in schema_of(document, ready["content"]["application/problem+json"]["schema"])["required"]
    )


def test_recipient_has_the_e164_pattern_in_requests_and_answers(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["MessageSubmit"]["properties"]["recipient"]["pattern"] == E164
    assert schemas["BatchItem"]["properties"]["recipient"]["pattern"] == E164
    assert schemas["MessagePublic"]["properties"]["recipient"]["pattern"] == E164
    [query] = [
        parameter
        for parameter in document["paths"]["/v1/messages"]["get"]["parameters"]
        if parameter["name"] == "recipient"
    ]
    assert {"type": "string", "pattern": E164} in [
        {key: option.get(key) for key in ("type", "pattern")} for option in query["schema"]["anyOf"]
    ]
