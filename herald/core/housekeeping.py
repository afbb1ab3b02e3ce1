"""The sandbox-safe contract of housekeeping: what the ``Housekeeping`` workflow purges, and
the inputs of its activities (DESIGN §13 operations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["HOUSEKEEPING_SCHEDULE_ID", "HousekeepingPolicy", "Purge", "PurgeBatch", "Purged"]

HOUSEKEEPING_SCHEDULE_ID = "herald-housekeeping"
"""The Temporal Schedule (in the Web UI's Schedules) that runs ``Housekeeping``."""


class Purge(StrEnum):
    IDEMPOTENCY_KEYS = "idempotency_keys"
    """Claims past their TTL: the key is free anyway."""
    MESSAGES = "messages"
    """Finished messages older than the retention, with their attempts and claims."""
    WEBHOOK_SENDS = "webhook_sends"
    """Delivered or given-up outcome webhook sends older than the retention."""


@dataclass(frozen=True)
class HousekeepingPolicy:
    """The input of a ``Housekeeping`` run (the Schedule's action carries it)."""

    retention_days: float
    batch_size: int = 1000
    max_batches: int = 100
    """A run stops after this many batches of each purge; the next run goes on."""


@dataclass(frozen=True)
class PurgeBatch:
    """Input of the ``purge`` activity: one bounded batch of one purge."""

    purge: Purge
    older_than: datetime
    limit: int


@dataclass(frozen=True)
class Purged:
    """What a ``Housekeeping`` run removed, by purge."""

    rows: dict[str, int] = field(default_factory=dict)
