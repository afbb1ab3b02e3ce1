"""Gap-free, monotonic sequence numbers per recipient, taken in the submit's transaction.

``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` locks the recipient's row until the
transaction ends, so concurrent submits to one recipient take consecutive numbers, and a
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
    """Give each ``strict`` message the next sequence number of its recipient, in order."""
    strict = [message for message in messages if message.ordering == "strict"]
    counts = Counter(message.recipient for message in strict)
    next_number: dict[str, int] = {}
    for recipient in sorted(counts):  # one lock order for every transaction: no deadlocks
        last = await _reserve(session, recipient, counts[recipient])
        next_number[recipient] = last - counts[recipient] + 1
    for message in strict:
        message.sequence_number = next_number[message.recipient]
        next_number[message.recipient] += 1


async def _reserve(session: AsyncSession, recipient: str, count: int) -> int:
    """Reserve ``count`` numbers for ``recipient``; the last one reserved."""
    statement = insert(RecipientSequence).values(recipient=recipient, last_sequence_number=count)
    last = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[col(RecipientSequence.recipient)],
            set_={"last_sequence_number": col(RecipientSequence.last_sequence_number) + count},
        ).returning(col(RecipientSequence.last_sequence_number))
    )
    assert last is not None, "an upsert returns its row"
    return int(last)
