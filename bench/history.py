"""Temporal history events per workflow, averaged over a sample of finished workflows."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stats import HistoryStats

__all__ = ["history_stats"]

CONCURRENT_FETCHES = 10


async def history_stats(client: Client, workflow_ids: Sequence[str], sample: int) -> HistoryStats:
    """The mean event count, and the mean count of each event type, of ``sample`` workflows
    drawn from ``workflow_ids`` (each waited for until it has finished)."""
    chosen = random.sample(list(workflow_ids), min(sample, len(workflow_ids)))
    limit = asyncio.Semaphore(CONCURRENT_FETCHES)

    async def event_types(workflow_id: str) -> list[str]:
        async with limit:
            handle = client.get_workflow_handle(workflow_id)
            await handle.result()
            history = await handle.fetch_history()
        return [EventType.Name(event.event_type) for event in history.events]

    histories = await asyncio.gather(*(event_types(workflow_id) for workflow_id in chosen))
    counts = Counter(name for history in histories for name in history)
    size = max(len(histories), 1)
    by_type = {
        name.removeprefix("EVENT_TYPE_").lower(): round(count / size, 2)
        for name, count in counts.most_common()
    }
    return HistoryStats(len(histories), round(sum(counts.values()) / size, 2), by_type)
