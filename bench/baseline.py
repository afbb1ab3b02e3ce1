"""The bare baseline's part of the run: N workflows of one no-op activity each, on their own
task queue and worker, started with the same concurrency as Herald's submits (see
:mod:`bench.workflow_runs`)."""

from __future__ import annotations

from bench.baseline_workflow import BaselineWorkflow
from bench.stack import BenchStack
from bench.stats import BaselineResult
from bench.workers import bench_worker
from bench.workflow_runs import baseline_result, run_workflows

__all__ = ["run_baseline"]


async def run_baseline(
    stack: BenchStack, run: str, count: int, concurrency: int, history_sample: int, timeout: float
) -> BaselineResult:
    """One bare baseline run, labelled ``run`` (``before`` / ``after`` Herald's)."""
    task_queue = f"baseline-{run}"
    worker = bench_worker("baseline", stack.mode, stack.settings_file, task_queue)

    async def start_one(_index: int, workflow_id: str) -> None:
        await stack.temporal.start_workflow(
            BaselineWorkflow.run, id=workflow_id, task_queue=task_queue
        )

    workflows = await run_workflows(
        stack, worker, task_queue, count, start_one, concurrency, history_sample, timeout
    )
    return baseline_result("bare", run, workflows)
