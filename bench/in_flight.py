"""``--in-flight N``: what N messages in flight awaiting their acks cost. On a stack whose
simulator accepts every message but never acks within the run, and whose ack timeout is an
hour, with one Herald worker:

1. a probe on the empty system: ``--probe-submits`` single submits, ``--concurrency`` at
   once, timed; once they too await their acks, the memory by part. A probe of the same size
   before it, not reported, warms the stack up (the API's connection pool grows, for one),
   so that the first probe does not pay for what the second finds done;
2. the load: N messages through ``POST /v1/messages/batch``, ``--batch-size`` at a time (at
   most ``HERALD_BATCH_SIZE_LIMIT``), one batch after the other, then a wait until
   PostgreSQL shows them all ``awaiting_ack``;
3. the same probe again, with the N in flight.

Before each probe the stack is settled: every workflow started so far waits for its ack in
Temporal too (its ``MessageStatus`` search attribute says ``awaiting_ack``), not only in
PostgreSQL, whose row says so a workflow task earlier; so a probe does not share the machine
with the tail of what came before it.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import cpu_delta, cpu_ms_per_message
from bench.database import status_counts
from bench.herald_phase import submit_all, submit_batches, wait_for_status
from bench.notes import busy_machine_notes
from bench.options import Options
from bench.stack import BenchStack, api_client, environment, running_stack
from bench.stats import (
    InFlightParameters,
    InFlightResult,
    LoadResult,
    ProbeResult,
    percentiles,
)
from bench.waiting import wait_until_counted
from bench.workers import RunningWorker, herald_workers, wait_for_pollers
from herald.core.contract import MessageStatus
from herald.core.settings import Settings
from herald.core.temporal import MESSAGE_STATUS

__all__ = ["IN_FLIGHT_SETTINGS", "in_flight_benchmark"]

ACK_TIMEOUT_SECONDS = 3600.0
"""Herald's ack timeout during the mode: no timeout fires while it runs."""
IN_FLIGHT_SETTINGS: dict[str, Any] = {
    "ack_timeout_seconds": ACK_TIMEOUT_SECONDS,
    # Accepted now, acked ten hours later: never during the run (the pending acks are
    # cancelled when the simulator stops).
    "simulator_ack_delay_seconds": 10 * ACK_TIMEOUT_SECONDS,
}
"""The stack's settings for the mode (see :func:`bench.stack.running_stack`)."""
AWAITING_ACK = MessageStatus.AWAITING_ACK
POLL_SECONDS = 0.5
EPOCH = datetime.fromtimestamp(0, UTC)

_say = partial(print, flush=True)


async def in_flight_benchmark(options: Options, count: int, workdir: Path) -> InFlightResult:
    """The mode, on a stack of its own (:data:`IN_FLIGHT_SETTINGS`) with one Herald worker."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    _say(f"Starting PostgreSQL, Temporal, Herald and a simulator that never acks in {workdir} ...")
    async with (
        running_stack(workdir, options.worker, **IN_FLIGHT_SETTINGS) as stack,
        api_client(stack, options.concurrency) as api,
        herald_workers(stack.mode, stack.settings, stack.settings_file) as [worker],
    ):
        await wait_for_pollers(stack.temporal, stack.settings.task_queue, worker)
        measure = partial(probe, stack, api, worker, options.probe_submits, options.concurrency)
        _say(f"Warm-up: {options.probe_submits} submits, not reported ...")
        await measure(options.timeout)
        _say(f"Empty system: {options.probe_submits} submits ...")
        empty = await measure(options.timeout)
        batch_size = min(options.batch_size, stack.settings.batch_size_limit)
        _say(f"Putting {count} messages in flight, in batches of {batch_size} ...")
        load = await put_in_flight(stack, api, worker, count, batch_size, options.timeout)
        _say(f"With {load.messages} in flight: {options.probe_submits} submits ...")
        loaded = await measure(options.timeout)
        _say("Stopping everything ...")
    parameters = InFlightParameters(
        **asdict(environment(stack, options.concurrency, options.worker)),
        in_flight=count,
        probe_submits=options.probe_submits,
        batch_size=batch_size,
        ack_timeout_seconds=stack.settings.ack_timeout_seconds,
    )
    return InFlightResult(
        started_at=started_at,
        parameters=parameters,
        worker=worker.name,
        empty=empty,
        load=load,
        loaded=loaded,
        p99_ratio=round(loaded.submit_response.p99 / empty.submit_response.p99, 3),
        notes=_notes(stack.settings, empty, load, loaded),
    )


async def probe(
    stack: BenchStack,
    api: httpx.AsyncClient,
    worker: RunningWorker,
    submits: int,
    concurrency: int,
    timeout: float,
) -> ProbeResult:
    """Time ``submits`` single submits; read the memory once they await their acks."""
    in_flight = (await status_counts(stack.database, EPOCH)).get(AWAITING_ACK, 0)
    await wait_until_waiting_in_temporal(stack, worker, in_flight, timeout)
    since, cpu_before, started = datetime.now(UTC), stack.cpu(worker), time.perf_counter()
    submissions = await submit_all(api, submits, concurrency)
    seconds = round(time.perf_counter() - started, 3)
    cpu = cpu_delta(cpu_before, stack.cpu(worker))
    await wait_for_status(stack, [worker], since, submits, AWAITING_ACK, timeout)
    return ProbeResult(
        in_flight=in_flight,
        submits=submits,
        seconds=seconds,
        submit_response=percentiles([s.response_seconds for s in submissions]),
        cpu_seconds=cpu,
        memory=stack.memory(worker),
    )


async def put_in_flight(
    stack: BenchStack,
    api: httpx.AsyncClient,
    worker: RunningWorker,
    count: int,
    batch_size: int,
    timeout: float,
) -> LoadResult:
    """``count`` messages through ``POST /v1/messages/batch``, until all await their acks."""
    since, cpu_before, started = datetime.now(UTC), stack.cpu(worker), time.perf_counter()
    await submit_batches(api, count, batch_size)
    submitted = time.perf_counter() - started
    _say(f"  submitted in {submitted:.1f} s; waiting until they all await their acks ...")
    await wait_for_status(stack, [worker], since, count, AWAITING_ACK, timeout)
    settled = time.perf_counter() - started
    cpu = cpu_delta(cpu_before, stack.cpu(worker))
    return LoadResult(
        messages=count,
        submit_seconds=round(submitted, 3),
        settle_seconds=round(settled, 3),
        cpu_seconds=cpu,
        cpu_ms_per_message=cpu_ms_per_message(cpu, count),
    )


async def wait_until_waiting_in_temporal(
    stack: BenchStack, worker: RunningWorker, count: int, timeout: float
) -> None:
    """Until ``count`` workflows have published ``awaiting_ack``: their workflow task after
    the acceptance is done, and they wait on their ack timers. Fails at once if the worker
    has died, as the other waits do."""
    query = f"ExecutionStatus = 'Running' AND {MESSAGE_STATUS.name} = '{AWAITING_ACK.value}'"

    async def waiting() -> int:
        worker.check()
        return (await stack.temporal.count_workflows(query)).count

    await wait_until_counted(waiting, count, timeout, POLL_SECONDS, "workflows awaiting acks")


def _notes(
    settings: Settings, empty: ProbeResult, load: LoadResult, loaded: ProbeResult
) -> list[str]:
    delay = settings.simulator_ack_delay_seconds
    notes = [
        f"the simulator accepts every message and would ack it {delay:g} s later, so no ack "
        f"comes during the run; Herald's ack timeout is {settings.ack_timeout_seconds:g} s",
        "a warm-up probe, not reported, ran before the empty one",
        "memory is read once the probe's own submits await their acks too; RSS and peak RSS "
        "are summed over a part's processes (PostgreSQL's shared memory counts once per "
        "process), PSS shares shared pages out",
    ]
    runs = [
        ("the empty probe", empty.cpu_seconds, empty.seconds),
        ("the load", load.cpu_seconds, load.settle_seconds),
        ("the loaded probe", loaded.cpu_seconds, loaded.seconds),
    ]
    return notes + busy_machine_notes(runs)
