"""The naive baseline's part of the run: N naive workflows (:mod:`bench.naive_workflow`) on
their own task queue and worker, started straight from the Temporal client with the same
concurrency as Herald's submits; each delivers to the naive gateway's simulator and waits for
its ack (see :mod:`bench.workflow_runs`)."""

from __future__ import annotations

from bench.herald_phase import message_body
from bench.naive_workflow import NaiveMessage, NaiveWorkflow
from bench.stack import BenchStack, NaiveGateway
from bench.stats import BaselineResult
from bench.workers import bench_worker
from bench.workflow_runs import baseline_result, run_workflows

__all__ = ["run_naive"]


async def run_naive(
    stack: BenchStack,
    gateway: NaiveGateway,
    run: str,
    count: int,
    concurrency: int,
    history_sample: int,
    timeout: float,
) -> BaselineResult:
    """One naive baseline run, labelled ``run`` (``before`` / ``after`` Herald's)."""
    task_queue = f"naive-{run}"
    worker = bench_worker("naive", stack.mode, gateway.settings_file, task_queue)

    async def start_one(index: int, workflow_id: str) -> None:
        message = NaiveMessage(id=workflow_id, **message_body(index))
        await stack.temporal.start_workflow(
            NaiveWorkflow.run, message, id=workflow_id, task_queue=task_queue
        )

    workflows = await run_workflows(
        stack, worker, task_queue, count, start_one, concurrency, history_sample, timeout
    )
    return baseline_result("naive", run, workflows, gateway.arrivals.arrivals)
