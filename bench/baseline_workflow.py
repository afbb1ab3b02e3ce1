"""The bare baseline: a workflow with one no-op activity, nothing else (and, for
:mod:`bench.local_activity_cost`, the same with one no-op local activity after it).

Deterministic code only (it runs in the workflow sandbox when ``HERALD_WORKFLOW_SANDBOX`` is
set): the worker that runs it lives in :mod:`bench.workers`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

__all__ = ["BaselineWorkflow", "noop"]


@activity.defn
async def noop() -> None:
    """Does nothing: the baseline measures Temporal's cost of one activity."""


@workflow.defn
class BaselineWorkflow:
    @workflow.run
    async def run(self, local_activity: bool = False) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=10))
        if local_activity:
            await workflow.execute_local_activity(
                noop, start_to_close_timeout=timedelta(seconds=10)
            )
