"""The naive "same shape" baseline: Herald's design written naively by hand, with no
database, no idempotency and no dead letters. A workflow per message runs one activity that
POSTs the message to a provider gateway (signed as the simulator requires, in the body of
Herald's provider call), then waits for the gateway's ``ack`` signal.

The worker that runs it lives in :mod:`bench.workers`; the app that turns the gateway's ack
callbacks into signals in :mod:`bench.naive_api`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import httpx

    from herald.activities.providers import OutboundMessage
    from herald.core import webhooks

__all__ = ["ACK_TIMEOUT", "NaiveActivities", "NaiveMessage", "NaiveWorkflow"]

ACK_TIMEOUT = timedelta(minutes=5)
DELIVER_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True)
class NaiveMessage:
    id: str
    """The message's id, and its workflow's: the ack names it."""
    recipient: str
    content: str


class NaiveActivities:
    """POSTs to ``gateway_url`` with one shared HTTP client, signed with ``secret``."""

    def __init__(self, client: httpx.AsyncClient, gateway_url: str, secret: str) -> None:
        self._client = client
        self._url = gateway_url
        self._secret = secret

    @activity.defn(name="naive_deliver")
    async def deliver(self, message: NaiveMessage) -> None:
        outbound = OutboundMessage(
            id=message.id,
            recipient=message.recipient,
            content=message.content,
            priority="normal",
            sequence_number=None,
            attempt=activity.info().attempt,
        )
        body = json.dumps(asdict(outbound)).encode()
        headers = {
            "Content-Type": "application/json",
            **webhooks.sign(self._secret, message.id, body),
        }
        response = await self._client.post(self._url, content=body, headers=headers)
        response.raise_for_status()


@workflow.defn
class NaiveWorkflow:
    def __init__(self) -> None:
        self._acked = False

    @workflow.run
    async def run(self, message: NaiveMessage) -> None:
        await workflow.execute_activity_method(
            NaiveActivities.deliver, message, start_to_close_timeout=DELIVER_TIMEOUT
        )
        try:
            await workflow.wait_condition(lambda: self._acked, timeout=ACK_TIMEOUT)
        except TimeoutError:
            raise ApplicationError(f"no ack in {ACK_TIMEOUT}", non_retryable=True) from None

    @workflow.signal
    def ack(self) -> None:
        self._acked = True
