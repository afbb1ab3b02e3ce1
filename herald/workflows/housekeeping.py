"""``Housekeeping``: purges what Herald no longer needs, in bounded batches (DESIGN §13).

A Temporal Schedule (``herald-housekeeping``, created or updated by ``herald migrate``,
listed in the Web UI's Schedules) starts it every ``HERALD_HOUSEKEEPING_INTERVAL_MINUTES``:
expired idempotency claims, finished messages older than ``HERALD_MESSAGE_RETENTION_DAYS``
(with their attempts and claims), and outcome webhook sends older than that. Each purge runs
batch after batch until one comes back short, at most ``max_batches`` a run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from herald.activities.housekeeping import HousekeepingActivities
    from herald.core.housekeeping import HousekeepingPolicy, Purge, PurgeBatch, Purged

__all__ = ["Housekeeping"]

BATCH_TIMEOUT = timedelta(minutes=2)
BATCH_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)


@workflow.defn
class Housekeeping:
    @workflow.run
    async def run(self, policy: HousekeepingPolicy) -> Purged:
        older_than = workflow.now() - timedelta(days=policy.retention_days)
        rows: dict[str, int] = {}
        for purge in Purge:
            rows[purge.value] = 0
            for _ in range(policy.max_batches):
                deleted = await workflow.execute_activity_method(
                    HousekeepingActivities.purge,
                    PurgeBatch(purge, older_than, policy.batch_size),
                    start_to_close_timeout=BATCH_TIMEOUT,
                    retry_policy=BATCH_RETRY,
                )
                rows[purge.value] += deleted
                if deleted < policy.batch_size:
                    break
        workflow.logger.info("housekeeping done", extra=rows)
        return Purged(rows)
