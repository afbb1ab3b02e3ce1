"""Idempotent submits: a client's ``Idempotency-Key`` names one message while it lives.

The key is claimed in the submit's own transaction, after the message row (the claim
references it): an ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at <= now`` takes a
free or expired key and returns it, and returns nothing while another message holds it. A
concurrent claim of the same key waits for the holder's transaction; once that commits, the
claim finds the key held, the submit rolls back, and a new statement (READ COMMITTED) reads
the holder's committed key and message to replay them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.errors import Conflict
from herald.core.models import IdempotencyKey, Message, MessageCreate, utcnow

__all__ = ["Submission", "fingerprint", "store_once"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """The message a submit answers with; ``replayed`` when it was stored by an earlier one."""

    message: Message
    replayed: bool


def fingerprint(body: MessageCreate) -> str:
    """SHA-256 of the validated body as canonical JSON: requests that validate to the same
    message (``+1 415 555 0123`` and ``+14155550123``, an omitted or explicit default) match."""
    canonical = json.dumps(
        body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def store_once(
    session: AsyncSession, message: Message, body_fingerprint: str | None, ttl: timedelta
) -> Submission:
    """Commit ``message`` and claim its ``idempotency_key`` for ``ttl``, or, when a live
    claim holds the key, replay that claim's message (same fingerprint) or refuse (409).

    ``body_fingerprint`` is None when Herald generated the key (the message id, never
    presented again): then the message is committed without a claim.
    """
    session.add(message)
    await session.flush()
    if body_fingerprint is None or await _claim(session, message, body_fingerprint, ttl):
        await session.commit()
        return Submission(message, replayed=False)
    await session.rollback()
    held = await session.get(IdempotencyKey, message.idempotency_key)
    assert held is not None, "a claim that was refused is held (keys are never deleted)"
    return await _replay(session, held, body_fingerprint)


async def _claim(
    session: AsyncSession, message: Message, body_fingerprint: str, ttl: timedelta
) -> bool:
    """Take the key for ``message`` unless a live claim holds it; True when taken."""
    now = utcnow()
    claim = insert(IdempotencyKey).values(
        key=message.idempotency_key,
        fingerprint=body_fingerprint,
        message_id=message.id,
        created_at=now,
        expires_at=now + ttl,
    )
    taken = await session.scalar(
        claim.on_conflict_do_update(
            index_elements=[col(IdempotencyKey.key)],
            set_={
                name: claim.excluded[name]
                for name in ("fingerprint", "message_id", "created_at", "expires_at")
            },
            where=col(IdempotencyKey.expires_at) <= now,
        ).returning(col(IdempotencyKey.key))
    )
    return taken is not None


async def _replay(session: AsyncSession, held: IdempotencyKey, body_fingerprint: str) -> Submission:
    if held.fingerprint != body_fingerprint:
        raise Conflict(_conflict_detail(held.key, held.expires_at))
    original = await session.get(Message, held.message_id)
    assert original is not None, "an idempotency key references its message (foreign key)"
    log.info("idempotent replay", extra={"message_id": str(original.id), "key": held.key})
    return Submission(original, replayed=True)


def _conflict_detail(key: str, expires_at: datetime) -> str:
    return (
        f"Idempotency-Key {key!r} was used for a different request and is held until "
        f"{expires_at.isoformat()}; resend that request unchanged to get its message, "
        "or use a new key for a new message"
    )
