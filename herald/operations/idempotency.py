"""Idempotent submits: a client's ``Idempotency-Key`` names one message while it lives.

One transaction stores the messages of a submit (one, or a batch): it numbers the strictly
ordered ones, inserts the rows, and claims the client keys after them (a claim references its
message) with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at <= now RETURNING
key``, which takes the free or expired keys and returns them, and returns nothing for a key a
live claim holds. A concurrent claim of the same key waits for the holder's transaction; once
that commits, the claim finds the key held, and the transaction rolls back (giving its
sequence numbers back). A new statement (READ COMMITTED) then reads the holders' committed
claims: their messages are replayed (same body) or refused (409), and the rest is stored
again. Live claims are read before the first attempt too, so a plain resend inserts nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.errors import Conflict
from herald.core.models import IdempotencyKey, Message, MessageCreate, utcnow
from herald.core.settings import Settings
from herald.operations.sequencing import number_strict_messages
from herald.operations.workflows import starting_window

__all__ = ["Draft", "Outcome", "Submission", "fingerprint", "store_all", "store_once"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Draft:
    """A message to store, and the fingerprint of the request for it: None when Herald
    generated its key (the message id, never presented again), so nothing is claimed."""

    message: Message
    body_fingerprint: str | None

    @classmethod
    def of(
        cls,
        body: MessageCreate,
        settings: Settings,
        idempotency_key: str | None,
        tenant_id: str,
    ) -> Draft:
        """The row for a submit; without a client key, the key is the message's own id."""
        message_id = uuid.uuid4()
        message = Message(
            id=message_id,
            tenant_id=tenant_id,
            recipient=body.recipient,
            content=body.content,
            priority=body.priority,
            ordering=body.ordering or settings.ordering_mode,
            send_at=body.send_at,
            meta=body.metadata,
            idempotency_key=idempotency_key or str(message_id),
        )
        return cls(message, fingerprint(body) if idempotency_key else None)

    @property
    def client_key(self) -> str | None:
        return self.message.idempotency_key if self.body_fingerprint else None


@dataclass(frozen=True)
class Submission:
    """The message a submit answers with; ``replayed`` when it was stored by an earlier one."""

    message: Message
    replayed: bool


Outcome = Submission | Conflict
"""What became of a draft: stored or replayed, or refused because its key is held."""


def fingerprint(body: MessageCreate) -> str:
    """SHA-256 of the validated message as canonical JSON: requests that validate to the same
    message (``+1 415 555 0123`` and ``+14155550123``, an omitted or explicit default) match.
    Only the fields of a single submit count, so a batch item matches it too."""
    message = body.model_dump(mode="json", include=set(MessageCreate.model_fields))
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def store_once(session: AsyncSession, draft: Draft, settings: Settings) -> Submission:
    """Commit the draft's message, or replay the message a live claim of its key holds for the
    same body; 409 (``Conflict``) when the claim holds it for another body."""
    [outcome] = await store_all(session, [draft], settings)
    if isinstance(outcome, Conflict):
        raise outcome
    return outcome


async def store_all(
    session: AsyncSession, drafts: Sequence[Draft], settings: Settings
) -> list[Outcome]:
    """Commit the drafts whose keys are free in one transaction, claiming the keys for
    ``HERALD_IDEMPOTENCY_TTL_HOURS``; answer each other draft from the live claim of its key.

    The drafts belong to one tenant (keys are per tenant) and their client keys are
    distinct. Outcomes are in the order of ``drafts``.
    """
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    settled: dict[int, Outcome] = {}
    while True:  # every retry settles the keys that refused it, held by committed claims
        unsettled = {index: draft for index, draft in enumerate(drafts) if index not in settled}
        settled |= await _settle_held(session, unsettled)
        to_store = [draft for index, draft in unsettled.items() if index not in settled]
        if await _store(session, to_store, ttl):
            await session.commit()
            break
        await session.rollback()
    return [
        settled.get(index) or Submission(draft.message, replayed=False)
        for index, draft in enumerate(drafts)
    ]


async def _settle_held(session: AsyncSession, drafts: Mapping[int, Draft]) -> dict[int, Outcome]:
    """The outcome of each draft whose key a live claim holds: that claim's message for the
    same body, a conflict for another."""
    index_of = {draft.client_key: index for index, draft in drafts.items() if draft.client_key}
    if not index_of:
        return {}
    tenant_id = next(iter(drafts.values())).message.tenant_id
    claims = await session.exec(
        select(IdempotencyKey).where(
            col(IdempotencyKey.tenant_id) == tenant_id,
            col(IdempotencyKey.key).in_(list(index_of)),
            col(IdempotencyKey.expires_at) > utcnow(),
        )
    )
    outcomes: dict[int, Outcome] = {}
    replays: dict[uuid.UUID, int] = {}
    for claim in claims:
        index = index_of[claim.key]
        if claim.fingerprint == drafts[index].body_fingerprint:
            replays[claim.message_id] = index
        else:
            outcomes[index] = Conflict(_conflict_detail(claim.key, claim.expires_at))
    originals = await session.exec(select(Message).where(col(Message.id).in_(list(replays))))
    for original in originals:
        log.info(
            "idempotent replay",
            extra={"message_id": str(original.id), "key": original.idempotency_key},
        )
        outcomes[replays[original.id]] = Submission(original, replayed=True)
    return outcomes


_INSERT_MESSAGES = insert(Message).returning(col(Message.id))
"""Built once (every submit runs it). RETURNING lets SQLAlchemy send multi-row INSERTs
("insertmanyvalues", pages of up to 1000 rows within asyncpg's parameter limit); without it
asyncpg inserts row by row."""


async def _store(session: AsyncSession, drafts: Sequence[Draft], ttl: timedelta) -> bool:
    """Number and insert the messages, and claim their client keys; False when a live claim
    holds one of the keys (the caller rolls back)."""
    if not drafts:
        return True
    messages = [draft.message for draft in drafts]
    left_to_the_request_until = utcnow() + starting_window(len(messages))
    for message in messages:
        message.next_start_at = left_to_the_request_until
    if _is_one_statement(session, drafts):
        # The INSERT is the whole transaction: it commits by itself, without the BEGIN
        # and COMMIT round trips (a single submit without a key, the most common).
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    await number_strict_messages(session, messages)
    await session.exec(_INSERT_MESSAGES, params=[message.model_dump() for message in messages])
    return await _claim(session, [draft for draft in drafts if draft.client_key], ttl)


def _is_one_statement(session: AsyncSession, drafts: Sequence[Draft]) -> bool:
    """Storing ``drafts`` is one statement of a transaction not yet begun: one message,
    no sequence number to take, no key to claim."""
    if session.in_transaction() or len(drafts) != 1:
        return False
    [draft] = drafts
    return draft.client_key is None and draft.message.ordering != "strict"


async def _claim(session: AsyncSession, drafts: Sequence[Draft], ttl: timedelta) -> bool:
    """Take the keys of ``drafts`` unless live claims hold them; True when all were taken.

    Keys are claimed in sorted order, so concurrent batches lock them in one order."""
    if not drafts:
        return True
    now = utcnow()
    claim = insert(IdempotencyKey)
    rows = [
        {
            "tenant_id": draft.message.tenant_id,
            "key": draft.message.idempotency_key,
            "fingerprint": draft.body_fingerprint,
            "message_id": draft.message.id,
            "created_at": now,
            "expires_at": now + ttl,
        }
        for draft in sorted(drafts, key=lambda draft: draft.message.idempotency_key)
    ]
    taken = await session.exec(
        claim.on_conflict_do_update(
            index_elements=[col(IdempotencyKey.tenant_id), col(IdempotencyKey.key)],
            set_={
                name: claim.excluded[name]
                for name in ("fingerprint", "message_id", "created_at", "expires_at")
            },
            where=col(IdempotencyKey.expires_at) <= now,
        ).returning(col(IdempotencyKey.key)),
        params=rows,
    )
    return len(taken.all()) == len(rows)


def _conflict_detail(key: str, expires_at: datetime) -> str:
    return (
        f"Idempotency-Key {key!r} was used for a different request and is held until "
        f"{expires_at.isoformat()}; resend that request unchanged to get its message, "
        "or use a new key for a new message"
    )
