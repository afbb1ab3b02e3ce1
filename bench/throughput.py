"""The throughput runs (the default mode): on one stack, the bare and the naive baselines,
Herald (twice with ``--scale-out``), the naive and the bare baselines again, each run with its
own worker; then the accept time of one batch, with no worker running."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from statistics import fmean

import httpx

from bench.baseline import run_baseline
from bench.herald_phase import accept_batch, run_herald, submitter
from bench.naive import run_naive
from bench.notes import busy_machine_notes
from bench.options import Options
from bench.stack import (
    BenchStack,
    NaiveGateway,
    api_client,
    environment,
    naive_gateway,
    running_stack,
)
from bench.stats import BaselineResult, BenchResult, HeraldResult, Parameters

__all__ = ["throughput_benchmark"]

_say = partial(print, flush=True)


async def throughput_benchmark(options: Options, workdir: Path) -> BenchResult:
    """Both baselines before and after Herald (twice with ``--scale-out``), then a batch."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    _say(f"Starting PostgreSQL, Temporal, Herald and the simulators in {workdir} ...")
    async with (
        running_stack(workdir, options.worker) as stack,
        naive_gateway(stack) as gateway,
        api_client(stack, options.concurrency) as api,
    ):
        bare = [await _baseline(stack, options, "before")]
        naive = [await _naive(stack, gateway, options, "before")]
        herald = await _herald(stack, api, options, workers=1)
        scale_out = await _herald(stack, api, options, workers=2) if options.scale_out else None
        naive.append(await _naive(stack, gateway, options, "after"))
        bare.append(await _baseline(stack, options, "after"))
        _say(f"Batch accept: {options.batch_size} messages in one request (no worker) ...")
        batch = await accept_batch(api, options.batch_size)
        _say("Stopping everything ...")
    bare_per_second = fmean(b.throughput.per_second for b in bare)
    naive_per_second = fmean(n.throughput.per_second for n in naive)
    per_second = herald.throughput.per_second
    return BenchResult(
        started_at=started_at,
        parameters=Parameters(
            **asdict(environment(stack, options.concurrency, options.worker)),
            messages=options.messages,
            history_sample=options.history_sample,
        ),
        herald=herald,
        bare=bare,
        naive=naive,
        bare_per_second=round(bare_per_second, 1),
        naive_per_second=round(naive_per_second, 1),
        herald_to_bare=round(per_second / bare_per_second, 3),
        herald_to_naive=round(per_second / naive_per_second, 3),
        batch=batch,
        scale_out=scale_out,
        scale_out_ratio=round(scale_out.throughput.per_second / per_second, 3)
        if scale_out
        else None,
        notes=_notes(
            options,
            [herald, *([scale_out] if scale_out else [])],
            [bare[0], naive[0], naive[1], bare[1]],
        ),
    )


async def _herald(
    stack: BenchStack, api: httpx.AsyncClient, options: Options, workers: int
) -> HeraldResult:
    batch_size = min(options.batch_size, stack.settings.batch_size_limit)
    submit = submitter(options.submit, options.concurrency, batch_size)
    submits = f"{submit.route}, {submit.shape}"
    _say(f"Herald, {_workers(workers)}: {options.messages} messages, {submits} ...")
    result = await run_herald(
        stack,
        api,
        options.messages,
        submit,
        options.history_sample,
        options.timeout,
        workers,
    )
    _say(f"  {result.throughput.per_second} messages/s")
    return result


async def _baseline(stack: BenchStack, options: Options, run: str) -> BaselineResult:
    _say(f"Bare baseline ({run} Herald): {options.messages} one-activity workflows ...")
    result = await run_baseline(
        stack, run, options.messages, options.concurrency, options.history_sample, options.timeout
    )
    _say(f"  {result.throughput.per_second} workflows/s")
    return result


async def _naive(
    stack: BenchStack, gateway: NaiveGateway, options: Options, run: str
) -> BaselineResult:
    _say(f"Naive baseline ({run} Herald): {options.messages} messages ...")
    result = await run_naive(
        stack,
        gateway,
        run,
        options.messages,
        options.concurrency,
        options.history_sample,
        options.timeout,
    )
    _say(f"  {result.throughput.per_second} messages/s")
    return result


def _notes(
    options: Options, heralds: list[HeraldResult], baselines: list[BaselineResult]
) -> list[str]:
    notes = [
        "submit → provider and submit → delivered start at the row's created_at (stamped by "
        f"the API); {heralds[0].submit_route} is the client's round trip "
        f"({heralds[0].submit_shape}); the baselines' latencies start when the benchmark "
        "sends the workflow's start",
        "PostgreSQL runs pg_stat_statements for the statement counts",
    ]
    if options.worker == "inline":
        notes.append("workers ran in the benchmark's event loop, with the API and simulator")
    runs = [
        (f"Herald's run, {_workers(h.workers)}", h.cpu_seconds, h.throughput.seconds)
        for h in heralds
    ]
    runs += [(f"{b.kind} baseline {b.run}", b.cpu_seconds, b.throughput.seconds) for b in baselines]
    notes += busy_machine_notes(runs)
    for herald in heralds:
        if herald.throughput.count != options.messages:
            delivered = herald.throughput.count
            notes.append(f"{delivered} delivered rows for {options.messages} submits")
    return notes


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count > 1 else ''}"
