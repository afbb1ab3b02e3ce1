"""The housekeeping activity: one bounded batch of deletes, the oldest first.

Each batch picks its rows with ``FOR UPDATE SKIP LOCKED`` (so two runs never fight) and
deletes them in one statement; a message goes with its attempts and idempotency claims.
Only finished messages are removed: one still under way, scheduled, or in the dead-letter
queue stays, however old.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, text, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from herald.core.database import SessionFactory
from herald.core.housekeeping import Purge, PurgeBatch
from herald.core.models import FINISHED_SQL, Attempt, IdempotencyKey, Message, utcnow
from herald.core.outcomes import WebhookSendState
from herald.core.webhook_models import WebhookSend

__all__ = ["HousekeepingActivities"]


class HousekeepingActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn(name="purge")
    async def purge(self, batch: PurgeBatch) -> int:
        """Delete up to ``batch.limit`` rows of the purge; how many went."""
        statements = {
            Purge.IDEMPOTENCY_KEYS: _expired_claims,
            Purge.MESSAGES: _old_messages,
            Purge.WEBHOOK_SENDS: _old_sends,
        }
        async with self._sessions() as session:
            deleted = await statements[batch.purge](session, batch.older_than, batch.limit)
            await session.commit()
        if deleted:
            activity.logger.info(
                "housekeeping purged rows", extra={"purge": batch.purge.value, "rows": deleted}
            )
        return deleted


async def _expired_claims(session: AsyncSession, _older_than: datetime, limit: int) -> int:
    doomed = (
        select(col(IdempotencyKey.tenant_id), col(IdempotencyKey.key))
        .where(col(IdempotencyKey.expires_at) <= utcnow())
        .order_by(col(IdempotencyKey.expires_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    gone = await session.exec(
        delete(IdempotencyKey)
        .where(tuple_(col(IdempotencyKey.tenant_id), col(IdempotencyKey.key)).in_(doomed))
        .returning(col(IdempotencyKey.key))
    )
    return len(gone.all())


async def _old_messages(session: AsyncSession, older_than: datetime, limit: int) -> int:
    picked = await session.exec(
        select(col(Message.id))
        .where(
            text(FINISHED_SQL),
            col(Message.updated_at) < older_than,
        )
        .order_by(col(Message.updated_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    doomed = list(picked.all())
    if not doomed:
        return 0
    await session.exec(delete(Attempt).where(col(Attempt.message_id).in_(doomed)))
    await session.exec(delete(IdempotencyKey).where(col(IdempotencyKey.message_id).in_(doomed)))
    await session.exec(delete(Message).where(col(Message.id).in_(doomed)))
    return len(doomed)


async def _old_sends(session: AsyncSession, older_than: datetime, limit: int) -> int:
    doomed = (
        select(col(WebhookSend.id))
        .where(
            col(WebhookSend.state).in_([WebhookSendState.DELIVERED, WebhookSendState.FAILED]),
            col(WebhookSend.created_at) < older_than,
        )
        .order_by(col(WebhookSend.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    gone = await session.exec(
        delete(WebhookSend).where(col(WebhookSend.id).in_(doomed)).returning(col(WebhookSend.id))
    )
    return len(gone.all())
