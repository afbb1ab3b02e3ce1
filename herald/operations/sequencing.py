"""Gap-free, monotonic sequence numbers per tenant and recipient (each tenant has its own
line to a recipient), taken in the submit's transaction.

``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` locks the line's row until the
transaction ends, so concurrent submits to one line take consecutive numbers, and a
rolled-back submit gives its numbers back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.models import Message, RecipientSequence

__all__ = ["number_strict_messages"]


async def number_strict_messages(session: AsyncSession, messages: Iterable[Message]) -> None:
    """Give each ``strict`` message the next sequence number of its tenant's line to its
    recipient, in order."""
    strict = [message for message in messages if message.ordering == "strict"]
    counts = Counter((message.tenant_id, message.recipient) for message in strict)
    next_number: dict[tuple[str, str], int] = {}
    for line in sorted(counts):  # one lock order for every transaction: no deadlocks
        last = await _reserve(session, line, counts[line])
        next_number[line] = last - counts[line] + 1
    for message in strict:
        line = (message.tenant_id, message.recipient)
        message.sequence_number = next_number[line]
        next_number[line] += 1


async def _reserve(session: AsyncSession, line: tuple[str, str], count: int) -> int:
    """Reserve ``count`` numbers for the (tenant, recipient) line; the last one reserved."""
    tenant_id, recipient = line
    statement = insert(RecipientSequence).values(
        tenant_id=tenant_id, recipient=recipient, last_sequence_number=count
    )
    last = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[col(RecipientSequence.tenant_id), col(RecipientSequence.recipient)],
            set_={"last_sequence_number": col(RecipientSequence.last_sequence_number) + count},
        ).returning(col(RecipientSequence.last_sequence_number))
    )
    assert last is not None, "an upsert returns its row"
    return int(last)
