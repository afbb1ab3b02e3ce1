"""``python -m bench.local_activity_cost``: what one local activity adds to a workflow's CPU
(not a test).

Herald's workflow writes each status it decides through a local activity (a bookkeeping
marker in history and one more workflow activation); this puts a figure on that part. On a
stack of its own (the benchmark's, :func:`bench.stack.running_stack`) it runs the bare
baseline's workflow, one no-op activity, ``--messages`` times, then the same with one no-op
local activity after it, in turn ``--pairs`` times, each run with a worker process of its own;
the dev server slows as its file database grows, so each pair is compared within itself. It
prints each run's CPU milliseconds a workflow by part, and the median difference.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from statistics import median

from bench.baseline_workflow import BaselineWorkflow
from bench.cpu import cpu_ms_per_message
from bench.stack import BenchStack, running_stack
from bench.workers import bench_worker
from bench.workflow_runs import run_workflows
from herald import lifecycle

__all__ = ["main"]

CONCURRENCY = 50
HISTORY_SAMPLE = 10
TIMEOUT_SECONDS = 600.0


async def measure(workdir: Path, count: int, pairs: int) -> list[dict[bool, dict[str, float]]]:
    """Per pair, CPU ms a workflow by part: without (``False``) and with (``True``)."""
    results: list[dict[bool, dict[str, float]]] = []
    async with running_stack(workdir, "process") as stack:
        for pair in range(1, pairs + 1):
            runs = {}
            for local_activity in (False, True):
                runs[local_activity] = await one_run(stack, count, local_activity, pair)
                print(
                    f"  pair {pair}, {_with(local_activity)}: {_line(runs[local_activity])}",
                    flush=True,
                )
            results.append(runs)
    return results


async def one_run(
    stack: BenchStack, count: int, local_activity: bool, pair: int
) -> dict[str, float]:
    """``count`` bare workflows, with or without the local activity, on a worker of their
    own; CPU ms a workflow by part."""
    task_queue = f"local-activity-{pair}-{_with(local_activity)}"

    async def start_one(_index: int, workflow_id: str) -> None:
        await stack.temporal.start_workflow(
            BaselineWorkflow.run, local_activity, id=workflow_id, task_queue=task_queue
        )

    worker = bench_worker("baseline", "process", stack.settings_file, task_queue)
    run = await run_workflows(
        stack, worker, task_queue, count, start_one, CONCURRENCY, HISTORY_SAMPLE, TIMEOUT_SECONDS
    )
    return cpu_ms_per_message(run.cpu_seconds, count)


def _with(local_activity: bool) -> str:
    return "with" if local_activity else "without"


def _line(cpu: dict[str, float]) -> str:
    return ", ".join(f"{part} {ms:.2f}" for part, ms in cpu.items())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.local_activity_cost")
    parser.add_argument("--messages", type=int, default=1000, help="workflows a run")
    parser.add_argument("--pairs", type=int, default=4, help="runs without and with, in turn")
    args = parser.parse_args(argv)
    if min(args.messages, args.pairs) < 1:
        parser.error("counts must be at least 1")
    print(
        f"{args.pairs} pairs of {args.messages} bare workflows, without and with one no-op "
        "local activity; CPU ms a workflow:",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="herald-local-activity-") as workdir:
        pairs = lifecycle.run(measure(Path(workdir), args.messages, args.pairs))
    print("Median over the pairs of with - without, a workflow:")
    for part in pairs[0][True]:
        added = median(runs[True][part] - runs[False][part] for runs in pairs)
        print(f"  {part:<44}{added:>+8.2f} ms")


if __name__ == "__main__":
    main()
