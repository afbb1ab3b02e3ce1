"""The ``http`` provider of DESIGN §6: a signed JSON POST, its answer sorted into error classes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx
from opentelemetry import propagate
from opentelemetry.trace import NoOpTracer, SpanKind, Tracer

from herald.core import webhooks
from herald.core.errors import (
    PermanentDeliveryError,
    RecoverableDeliveryError,
    TransientDeliveryError,
)
from herald.core.http_pool import ShardedClient

__all__ = ["Accepted", "HttpProvider", "OutboundMessage", "Provider"]

TRANSIENT_STATUSES = frozenset({408, 425, 429})
"""Besides 5xx. A 429 with ``Retry-After`` is recoverable instead: it says when to come back."""


@dataclass(frozen=True)
class OutboundMessage:
    """The body the gateway receives."""

    id: str
    recipient: str
    content: str
    priority: str
    sequence_number: int | None
    attempt: int


@dataclass(frozen=True)
class Accepted:
    """The provider took the message."""

    provider_message_id: str | None
    http_status: int | None = None


class Provider(Protocol):
    name: str

    async def send(self, message: OutboundMessage) -> Accepted:
        """Hand the message over.

        Raises a ``DeliveryError`` subclass when the provider does not accept it.
        """
        ...


class HttpProvider:
    """POSTs to a gateway URL; the ``Idempotency-Key`` is the message id on every attempt.
    Each call is a client span whose ``traceparent`` goes to the gateway (with tracing on)."""

    name = "http"

    def __init__(
        self,
        client: ShardedClient,
        url: str,
        secret: str,
        timeout: float,
        tracer: Tracer | None = None,
    ) -> None:
        self._client = client
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._tracer = tracer or NoOpTracer()

    async def send(self, message: OutboundMessage) -> Accepted:
        body = json.dumps(asdict(message)).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.id,
            **webhooks.sign(self._secret, message.id, body),
        }
        with self._tracer.start_as_current_span(
            "POST provider",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": "POST", "herald.message_id": message.id},
        ) as span:
            propagate.inject(headers)
            try:
                response = await self._client.post(
                    self._url, content=body, headers=headers, timeout=self._timeout
                )
            except httpx.TimeoutException:
                raise TransientDeliveryError(
                    f"provider did not answer within {self._timeout:g}s"
                ) from None
            except httpx.TransportError as err:
                raise TransientDeliveryError(f"provider unreachable: {err!r}") from None
            span.set_attribute("http.response.status_code", response.status_code)
            return _accepted(response)


def _accepted(response: httpx.Response) -> Accepted:
    """A 2xx answer, with the provider's message id if it gives one; any other answer
    raises its error class."""
    status = response.status_code
    if response.is_success:
        return Accepted(_provider_message_id(response), status)
    reason = f"provider answered {status}: {response.text[:200]}"
    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
    if status == 429 and retry_after is not None:
        raise RecoverableDeliveryError(reason, retry_after_seconds=retry_after, http_status=status)
    if status in TRANSIENT_STATUSES or status >= 500:
        raise TransientDeliveryError(reason, http_status=status)
    raise PermanentDeliveryError(reason, http_status=status)


def _provider_message_id(response: httpx.Response) -> str | None:
    try:
        provider_id = response.json().get("provider_message_id")
    except (ValueError, AttributeError):
        return None
    return str(provider_id) if provider_id is not None else None


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (seconds or an HTTP date)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
