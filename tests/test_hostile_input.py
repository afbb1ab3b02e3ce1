"""Hostile input gets a 4xx before it costs anything: a body over the size limit or without
an API key is refused before it is read, text PostgreSQL cannot store and unbounded metadata
are refused by field, and paging is bounded. On the real API, PostgreSQL and Temporal."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.app import create_app
from herald.core.settings import Settings
from tests.servers import serving
from tests.stack import API_KEY, serving_api

CHUNK = b"x" * 65536
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def recipient() -> str:
    """A number of the test's own, so listing by recipient counts only its messages."""
    return f"+491514{random.randrange(10**7):07d}"


class BodyMeter:
    """Counts the request body bytes the app (the request gate first) pulls from the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pulled = 0
        self.last = 0
        """The size of the last piece pulled (as much as the server had read, not a chunk)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def metered() -> Message:
            message = await receive()
            self.last = len(message.get("body", b""))
            self.pulled += self.last
            return message

        await self.app(scope, metered, send)


@dataclass
class Metered:
    url: str
    meter: BodyMeter


@asynccontextmanager
async def metered_api(settings: Settings) -> AsyncIterator[Metered]:
    meter = BodyMeter(create_app(settings))
    async with serving(meter) as url:
        yield Metered(url, meter)


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    written: int = field(default=0)
    """Body bytes the client had written when the answer came."""


async def send_raw(
    url: str, path: str, headers: dict[str, str], chunks: Iterable[bytes] = ()
) -> RawAnswer:
    """POST with ``headers``, then the ``chunks`` (chunked encoding, if any) for as long as
    no answer has come; the answer is read meanwhile. httpx cannot do this: it sends the whole
    body before it reads, so it could never show an answer to a body that does not end."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    written = 0

    async def write_body() -> None:
        nonlocal written
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            written += len(chunk)

    writing = asyncio.create_task(write_body())
    try:
        async with asyncio.timeout(30):
            status_line, *header_lines = (
                (await reader.readuntil(b"\r\n\r\n")).decode().strip().split("\r\n")
            )
            named = (line.split(": ", 1) for line in header_lines)
            answer_headers = {name.lower(): value for name, value in named}
            body = await reader.readexactly(int(answer_headers["content-length"]))
    finally:
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await writing
        writer.close()
    return RawAnswer(int(status_line.split()[1]), answer_headers, json.loads(body), written)


def endless() -> Iterator[bytes]:
    return itertools.repeat(CHUNK)


BATCH = "/v1/messages/batch"
JSON = {"Content-Type": "application/json"}
CHUNKED = JSON | {"Transfer-Encoding": "chunked"}
AUTHORIZED = {"Authorization": f"Bearer {API_KEY}"}


# --- Unauthenticated: 401 before a byte of the body is read -------------------------------


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "send your API key as `Authorization: Bearer <key>`"),
        ({"Authorization": "Basic dGVzdA=="}, "send your API key as `Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, "the API key is not one of this service's keys"),
    ],
    ids=["no-key", "not-bearer", "unknown-key"],
)
async def test_a_100_mb_body_without_a_valid_key_is_refused_unread(
    settings: Settings, headers: dict[str, str], detail: str
) -> None:
    async with metered_api(settings) as api:
        declared = await send_raw(
            api.url, BATCH, JSON | headers | {"Content-Length": str(100_000_000)}
        )
        streamed = await send_raw(api.url, BATCH, CHUNKED | headers, endless())
        for answer in (declared, streamed):
            assert answer.status == 401
            assert answer.headers["content-type"] == PROBLEM_JSON
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.body["detail"].startswith(detail)
            assert answer.body["instance"] == BATCH
        assert api.meter.pulled == 0, "the body of an unauthenticated request was read"


async def test_a_valid_key_still_passes_the_gate(settings: Settings, recipient: str) -> None:
    async with serving_api(settings) as api:
        response = await api.post("/v1/messages", json={"recipient": recipient, "content": "hi"})
    assert response.status_code == 202, response.text


# --- The size limit: 413 before the body is held whole --------------------------------------

SMALL_LIMIT = 256 * 1024


@pytest.mark.parametrize("settings_overrides", [{"max_request_bytes": SMALL_LIMIT}])
async def test_a_declared_length_over_the_limit_is_refused_at_once(settings: Settings) -> None:
    async with metered_api(settings) as api:
        # No body follows the head: the answer cannot have waited for one.
        answer = await send_raw(
            api.url, BATCH, JSON | AUTHORIZED | {"Content-Length": str(SMALL_LIMIT + 1)}
        )
        assert answer.status == 413
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert f"over {SMALL_LIMIT} bytes (HERALD_MAX_REQUEST_BYTES)" in answer.body["detail"]
        assert api.meter.pulled == 0


@pytest.mark.parametrize("settings_overrides", [{"max_request_bytes": SMALL_LIMIT}])
async def test_an_endless_chunked_body_is_cut_off_at_the_limit(settings: Settings) -> None:
    async with metered_api(settings) as api:
        answer = await send_raw(api.url, BATCH, CHUNKED | AUTHORIZED, endless())
        assert answer.status == 413
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert "HERALD_MAX_REQUEST_BYTES" in answer.body["detail"]
        # Read as it came, up to the piece that passed the limit, then no more.
        assert api.meter.pulled - api.meter.last <= SMALL_LIMIT < api.meter.pulled


@pytest.mark.parametrize("settings_overrides", [{"max_request_bytes": SMALL_LIMIT}])
async def test_a_chunked_body_within_the_limit_is_read(settings: Settings, recipient: str) -> None:
    body = json.dumps({"recipient": recipient, "content": "x" * 1600}).encode()

    async def in_pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    async with serving_api(settings) as api:
        response = await api.post("/v1/messages", content=in_pieces(), headers=JSON)
    assert response.status_code == 202, response.text


def test_the_default_limit_holds_a_full_batch_of_the_longest_messages() -> None:
    """1000 messages of 1600 four-byte characters, each with a 255-character key and some
    metadata, as compact JSON: what ``HERALD_MAX_REQUEST_BYTES`` is sized for."""
    settings = Settings(_env_file=None)
    item = {
        "recipient": "+14155550123",
        "content": "😀" * 1600,
        "priority": "normal",
        "ordering": "best_effort",
        "idempotency_key": "k" * 255,
        "metadata": {f"key-{index}": "v" * 100 for index in range(20)},
    }
    batch = {"messages": [item] * settings.batch_size_limit}
    size = len(json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode())
    assert size < settings.max_request_bytes == 10 * 1024 * 1024


# --- Text PostgreSQL cannot store, and unbounded metadata: 422 by field ---------------------


async def count_for(api: httpx.AsyncClient, recipient: str) -> int:
    page = await api.get("/v1/messages", params={"recipient": recipient, "page_size": 1})
    assert page.status_code == 200, page.text
    total: int = page.json()["total"]
    return total


def assert_invalid(response: httpx.Response, field: str, message: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert [(error["field"], error["message"]) for error in problem["errors"]] == [(field, message)]
    assert problem["detail"] == f"{field}: {message}"


NUL = "control character U+0000 at position 3 is not allowed; only newline and tab are"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"content": "abc\x00def"}, "content", NUL),
        ({"metadata": {"abc\x00": "v"}}, "metadata", f"key 'abc\\x00': {NUL}"),
        ({"metadata": {"k": "abc\x00"}}, "metadata", f"value of key 'k': {NUL}"),
        (
            {"content": "bell\x07"},
            "content",
            "control character U+0007 at position 4 is not allowed; only newline and tab are",
        ),
        (
            {"content": "a\r\nb"},
            "content",
            "control character U+000D at position 1 is not allowed; only newline and tab are",
        ),
    ],
    ids=["nul-content", "nul-metadata-key", "nul-metadata-value", "bell", "carriage-return"],
)
async def test_control_characters_are_refused_by_field_and_position(
    settings: Settings,
    recipient: str,
    fields: dict[str, Any],
    field: str,
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"recipient": recipient, "content": "hi", **fields}
    with caplog.at_level(logging.WARNING):
        async with serving_api(settings) as api:
            assert_invalid(await api.post("/v1/messages", json=body), field, message)
            batch = await api.post(BATCH, json={"messages": [body]})
            assert_invalid(batch, f"messages[0].{field}", message)
            assert await count_for(api, recipient) == 0
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_newline_and_tab_are_kept(settings: Settings, recipient: str) -> None:
    content = "line one\nline two\tafter a tab"
    async with serving_api(settings) as api:
        response = await api.post(
            "/v1/messages",
            json={"recipient": recipient, "content": content, "metadata": {"note": "a\nb"}},
        )
    assert response.status_code == 202, response.text
    assert response.json()["content"] == content


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({f"k{index}": "v" for index in range(51)}, "at most 50 keys, this has 51"),
        ({"k" * 41: "v"}, f"key '{'k' * 40}…': a key has 1 to 40 characters, this one 41"),
        ({"": "v"}, "key '': a key has 1 to 40 characters, this one 0"),
        ({"k": "v" * 501}, "value of key 'k': a value has at most 500 characters, this one 501"),
        ({"count": 3}, "value of key 'count': values are strings, not a number"),
        ({"nested": {"a": "b"}}, "value of key 'nested': values are strings, not an object"),
        ({"none": None}, "value of key 'none': values are strings, not null"),
        (
            {"huge": "x" * 10_000_000},
            "value of key 'huge': a value has at most 500 characters, this one 10000000",
        ),
    ],
    ids=["51-keys", "long-key", "empty-key", "long-value", "number", "object", "null", "10-mb"],
)
async def test_metadata_is_bounded_as_stripe_bounds_it(
    settings: Settings, recipient: str, metadata: dict[str, Any], message: str
) -> None:
    async with serving_api(settings) as api:
        response = await api.post(
            "/v1/messages", json={"recipient": recipient, "content": "hi", "metadata": metadata}
        )
        assert_invalid(response, "metadata", message)
        assert await count_for(api, recipient) == 0


async def test_metadata_at_its_bounds_is_stored(settings: Settings, recipient: str) -> None:
    metadata = {f"{index:02d}".ljust(40, "k"): "é" * 500 for index in range(50)}
    async with serving_api(settings) as api:
        response = await api.post(
            "/v1/messages", json={"recipient": recipient, "content": "hi", "metadata": metadata}
        )
    assert response.status_code == 202, response.text
    assert response.json()["metadata"] == metadata


# --- Paging: bounded, so the offset stays cheap and within bigint ---------------------------


@pytest.mark.parametrize("route", ["/v1/messages", "/v1/dead-letters"])
async def test_a_page_past_the_bound_is_refused(settings: Settings, route: str) -> None:
    async with serving_api(settings) as api:
        for page in (1943340756906348032, 10_001, 0):
            response = await api.get(route, params={"page": page})
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == PROBLEM_JSON
            assert [error["field"] for error in response.json()["errors"]] == ["page"]
        last = await api.get(route, params={"page": 10_000, "page_size": 500})
        assert last.status_code == 200, last.text
        assert last.json()["items"] == []
