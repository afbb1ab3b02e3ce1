"""The suppression list, per tenant: recipients who must not be messaged (opt-outs).

A message to a suppressed recipient is stored and answered as usual, and ends ``suppressed``
at its next attempt without being sent (the attempt's start checks the list in the same
statement that marks it ``sending``), whether the suppression came before the submit or
after it.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.errors import NotFound
from herald.core.models import Suppression, SuppressionPublic, utcnow
from herald.operations.tenants import require_tenant

__all__ = ["lift", "list_suppressions", "suppress"]


async def suppress(
    session: AsyncSession, tenant_id: str, recipient: str, reason: str | None
) -> SuppressionPublic:
    """Add (or update the reason of) the recipient's suppression; 404 for no such tenant."""
    await require_tenant(session, tenant_id)
    statement = insert(Suppression).values(
        tenant_id=tenant_id, recipient=recipient, reason=reason, created_at=utcnow()
    )
    row = (
        await session.exec(
            statement.on_conflict_do_update(
                index_elements=[col(Suppression.tenant_id), col(Suppression.recipient)],
                set_={"reason": statement.excluded.reason},
            ).returning(Suppression)
        )
    ).scalar_one()
    await session.commit()
    return SuppressionPublic.model_validate(row, from_attributes=True)


async def list_suppressions(
    session: AsyncSession, tenant_id: str | None, offset: int, limit: int
) -> tuple[list[SuppressionPublic], int]:
    """A page of suppressions (of ``tenant_id``, or every tenant's), newest first; the
    total."""
    of_tenant = [col(Suppression.tenant_id) == tenant_id] if tenant_id is not None else []
    total = await session.scalar(select(func.count()).select_from(Suppression).where(*of_tenant))
    rows = await session.exec(
        select(Suppression)
        .where(*of_tenant)
        .order_by(col(Suppression.created_at).desc(), col(Suppression.recipient))
        .offset(offset)
        .limit(limit)
    )
    items = [SuppressionPublic.model_validate(row, from_attributes=True) for row in rows]
    return items, total or 0


async def lift(session: AsyncSession, tenant_id: str, recipient: str) -> None:
    """Remove the recipient's suppression; 404 when there is none."""
    removed = await session.exec(
        delete(Suppression)
        .where(col(Suppression.tenant_id) == tenant_id, col(Suppression.recipient) == recipient)
        .returning(col(Suppression.recipient))
    )
    if removed.first() is None:
        raise NotFound(f"{recipient} is not on the suppression list of tenant {tenant_id!r}")
    await session.commit()
