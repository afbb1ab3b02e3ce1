"""The outcome webhook activities: one signed POST of an event to an endpoint, and giving a
send up (DESIGN §11).

Each attempt loads the send (its body, snapshotted when the event happened) and its endpoint
from PostgreSQL, resolves the endpoint's host and checks every address (unless private
networks are allowed), connects to a checked address itself (the ``Host`` header and, for
https, the TLS server name and certificate check stay the URL's host), and records its
outcome on the send's row. A failure raises a *benign* ``ApplicationError`` after one log
line; the workflow's retry policy decides what comes next.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from herald.core import webhooks
from herald.core.database import SessionFactory
from herald.core.egress import EgressRefused, IPAddress, WebhookTarget, send_addresses
from herald.core.models import utcnow
from herald.core.outcomes import SendGivenUp, WebhookSendJob
from herald.core.webhook_models import WebhookEndpoint, WebhookSend, WebhookSendState

__all__ = ["REFUSED", "WebhookActivities", "webhook_http_client"]

log = logging.getLogger(__name__)

REFUSED = "WebhookRefused"
"""The type of a failure no retry can mend (the endpoint's address is refused, the endpoint
was deleted): the workflow gives the send up at once."""
FAILED = "WebhookSendFailed"
"""A non-2xx answer, a timeout or a connection error: retried."""
SNIPPET_BYTES = 200
"""How much of a refusing answer's body is kept in ``last_error``."""
USER_AGENT = "Herald-Webhooks/1"


def webhook_http_client() -> httpx.AsyncClient:
    """Connections are never reused: each one is made to an address checked for that send,
    and verified for that endpoint's host name, so a pooled connection could carry one
    endpoint's request to another's server. Proxies from the environment are ignored (a
    proxy would connect to an address nobody checked); redirects are not followed (a 3xx is
    a failed attempt)."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_keepalive_connections=0),
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True)
class _Loaded:
    send: WebhookSend
    endpoint: WebhookEndpoint


@dataclass(frozen=True)
class _Answer:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


class WebhookActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        client: httpx.AsyncClient,
        *,
        allow_private_networks: bool,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._allow_private_networks = allow_private_networks

    @activity.defn(name="post_webhook")
    async def post_event(self, job: WebhookSendJob) -> None:
        """One attempt of the send: POST its body, signed with the endpoint's secret."""
        attempt = activity.info().attempt
        loaded = await self._load(job.send_id)
        if loaded is None:
            raise ApplicationError(
                f"webhook send {job.send_id} is not in the database",
                type=REFUSED,
                non_retryable=True,
            )
        send, endpoint = loaded.send, loaded.endpoint
        if send.state != WebhookSendState.PENDING:
            return  # settled by an earlier run whose completion was lost
        try:
            if endpoint.deleted_at is not None:
                raise EgressRefused("the endpoint was deleted")
            target = WebhookTarget(endpoint.url)
            addresses = await send_addresses(
                target, allow_private_networks=self._allow_private_networks
            )
        except EgressRefused as err:
            reason = f"not sent: {err}"
            await self._record(job, attempt, _Answer(None, reason), final=True)
            self._log(job, send, attempt, _Answer(None, reason), "webhook send refused")
            raise ApplicationError(
                reason, type=REFUSED, non_retryable=True, category=ApplicationErrorCategory.BENIGN
            ) from None
        answer = await self._post(target, addresses, send, endpoint.secret, job)
        final = answer.delivered or attempt >= job.policy.max_attempts
        await self._record(job, attempt, answer, final=final)
        if answer.delivered:
            self._log(job, send, attempt, answer, "webhook delivered")
            return
        self._log(job, send, attempt, answer, "webhook send failed")
        raise ApplicationError(
            answer.error or "failed",
            type=FAILED,
            # An expected failure, logged above in one line: no traceback.
            category=ApplicationErrorCategory.BENIGN,
        )

    @activity.defn(name="give_up_webhook")
    async def give_up(self, given_up: SendGivenUp) -> None:
        """Record the send as given up (``failed``), unless it is settled already."""
        now = utcnow()
        async with self._sessions() as session:
            result = await session.exec(
                update(WebhookSend)
                .where(
                    col(WebhookSend.id) == uuid.UUID(given_up.send_id),
                    col(WebhookSend.state) == WebhookSendState.PENDING,
                )
                .values(
                    state=WebhookSendState.FAILED,
                    last_error=given_up.reason,
                    next_attempt_at=None,
                    finished_at=now,
                )
                .returning(col(WebhookSend.id))
            )
            changed = result.first() is not None
            await session.commit()
        if changed:
            log.warning(
                "webhook send given up",
                extra={"send_id": given_up.send_id, "reason": given_up.reason},
            )

    async def _load(self, send_id: str) -> _Loaded | None:
        async with self._sessions() as session:
            rows = await session.exec(
                select(WebhookSend, WebhookEndpoint)
                .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookSend.endpoint_id))
                .where(col(WebhookSend.id) == uuid.UUID(send_id))
            )
            row = rows.first()
        return _Loaded(*row) if row is not None else None

    async def _post(
        self,
        target: WebhookTarget,
        addresses: list[IPAddress],
        send: WebhookSend,
        secret: str,
        job: WebhookSendJob,
    ) -> _Answer:
        """POST to the first address that takes the connection; the body and ``webhook-id``
        are the same on every attempt, the timestamp and signature are the attempt's."""
        body = send.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": target.host_header,
            **webhooks.sign(secret, str(send.event_id), body),
        }
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        timeout = job.policy.timeout_seconds
        refused: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                for address in addresses:
                    request = self._client.build_request(
                        "POST",
                        target.url_for(address),
                        content=body,
                        headers=headers,
                        extensions=extensions,
                        timeout=timeout,
                    )
                    try:
                        response = await self._client.send(request, stream=True)
                    except httpx.ConnectError as err:
                        refused.append(f"{address}: {err or type(err).__name__}")
                        continue
                    return await _answer_of(response)
        except (TimeoutError, httpx.TimeoutException):
            return _Answer(None, f"no answer within {timeout:g}s")
        except httpx.HTTPError as err:
            return _Answer(None, f"request failed: {err!r}")
        return _Answer(None, f"could not connect ({'; '.join(refused)})")

    async def _record(
        self, job: WebhookSendJob, attempt: int, answer: _Answer, *, final: bool
    ) -> None:
        now = utcnow()
        if answer.delivered:
            state = WebhookSendState.DELIVERED
        else:
            state = WebhookSendState.FAILED if final else WebhookSendState.PENDING
        next_attempt_at = None if final else now + job.policy.retry_delay(attempt - 1)
        async with self._sessions() as session:
            await session.exec(
                update(WebhookSend)
                .where(
                    col(WebhookSend.id) == uuid.UUID(job.send_id),
                    col(WebhookSend.state) == WebhookSendState.PENDING,
                )
                .values(
                    state=state,
                    attempts=attempt,
                    last_status=answer.status,
                    last_error=answer.error,
                    last_attempt_at=now,
                    next_attempt_at=next_attempt_at,
                    finished_at=now if final else None,
                )
            )
            await session.commit()

    def _log(
        self, job: WebhookSendJob, send: WebhookSend, attempt: int, answer: _Answer, what: str
    ) -> None:
        fields: dict[str, object] = {
            "send_id": job.send_id,
            "endpoint_id": str(send.endpoint_id),
            "message_id": str(send.message_id),
            "event": send.event_type.value,
            "attempt": attempt,
        }
        if answer.status is not None:
            fields["http_status"] = answer.status
        if answer.delivered:
            log.info(what, extra=fields)
            return
        fields["reason"] = answer.error
        if attempt < job.policy.max_attempts:
            fields["delay_seconds"] = job.policy.retry_delay(attempt - 1).total_seconds()
        log.warning(what, extra=fields)


async def _answer_of(response: httpx.Response) -> _Answer:
    """2xx is delivered; any other status is a failed attempt, with the start of its body.
    At most :data:`SNIPPET_BYTES` of the body are read, undecoded."""
    try:
        if response.is_success:
            return _Answer(response.status_code, None)
        snippet = b""
        async for chunk in response.aiter_raw():
            snippet += chunk
            if len(snippet) >= SNIPPET_BYTES:
                break
    finally:
        await response.aclose()
    text = snippet[:SNIPPET_BYTES].decode("utf-8", "replace").strip()
    error = f"endpoint answered {response.status_code}"
    return _Answer(response.status_code, f"{error}: {text}" if text else error)
