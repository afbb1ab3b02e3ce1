"""``python -m bench.run``: Herald's load benchmark (``make bench``).

In a work directory (temporary unless ``--workdir``) it starts an embedded PostgreSQL, a
Temporal dev server on a file database, Herald's API and the provider simulator (immediate
acks), and the naive baseline's ack receiver and simulator. On that one Temporal server it
runs the bare baseline (one no-op activity per workflow), the naive one (Herald's shape
written naively: deliver, wait for the ack signal), Herald with ``--messages`` messages, then
the naive and the bare baselines again, each with its own worker; then it times the accept of
one batch, with no worker running. It prints a summary and writes
``<timestamp>.json``, ``latest.json`` and ``latest.png`` under ``--results-dir``. Everything it
started is stopped at the end, on failure and on Ctrl-C. Not a test: it asserts nothing about
Herald's behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from statistics import fmean
from typing import get_args

import httpx

from bench.baseline import run_baseline
from bench.chart import write_chart
from bench.cpu import OTHER
from bench.herald_phase import accept_batch, run_herald
from bench.naive import run_naive
from bench.report import summary, write_json
from bench.stack import BenchStack, NaiveGateway, naive_gateway, running_stack
from bench.stats import BaselineResult, BenchResult, HeraldResult, Parameters, Throughput
from bench.workers import WorkerMode
from herald.core.logs import KeyValueFormatter
from herald.lifecycle import until_signal

__all__ = ["main"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUSY_MACHINE_SHARE = 0.1
"""Other processes' share of the CPU above which a run is flagged as skewed."""
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@dataclass(frozen=True)
class Options:
    messages: int
    concurrency: int
    worker: WorkerMode
    history_sample: int
    batch_size: int
    timeout: float
    results_dir: Path
    workdir: Path | None
    scale_out: bool


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Herald's load benchmark (not a test)."
    )
    parser.add_argument("--messages", type=int, default=1000, help="messages to deliver")
    parser.add_argument("--concurrency", type=int, default=50, help="submits in flight")
    parser.add_argument(
        "--worker",
        choices=get_args(WorkerMode),
        default="process",
        help="run Herald's and the baseline's workers in processes of their own (default), "
        "or in the benchmark's event loop",
    )
    parser.add_argument("--history-sample", type=int, default=50, help="histories to read")
    parser.add_argument("--batch-size", type=int, default=1000, help="messages in the batch")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds a run may go without progress (a message or workflow more done) "
        "before it fails",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--workdir", type=Path, help="keep servers' data and logs here")
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="after Herald's run with one worker, run it again with two worker processes "
        "and report one against the other",
    )
    args = parser.parse_args(argv)
    if min(args.messages, args.concurrency, args.history_sample, args.batch_size) < 1:
        parser.error("counts must be at least 1")
    if args.scale_out and args.worker == "inline":
        parser.error("--scale-out runs worker processes: it needs --worker process")
    return Options(
        args.messages,
        args.concurrency,
        args.worker,
        args.history_sample,
        args.batch_size,
        args.timeout,
        args.results_dir,
        args.workdir,
        args.scale_out,
    )


async def benchmark(options: Options, workdir: Path) -> BenchResult:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    _say(f"Starting PostgreSQL, Temporal, Herald and the simulators in {workdir} ...")
    async with (
        running_stack(workdir, options.worker) as stack,
        naive_gateway(stack) as gateway,
        _api_client(stack, options) as api,
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
        parameters=_parameters(options, stack),
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
        notes=_notes(options, [herald, *([scale_out] if scale_out else [])], [*bare, *naive]),
    )


async def _herald(
    stack: BenchStack, api: httpx.AsyncClient, options: Options, workers: int
) -> HeraldResult:
    _say(f"Herald, {_workers(workers)}: {options.messages} messages ...")
    result = await run_herald(
        stack,
        api,
        options.messages,
        options.concurrency,
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


@asynccontextmanager
async def _api_client(stack: BenchStack, options: Options) -> AsyncIterator[httpx.AsyncClient]:
    settings = stack.settings
    limits = httpx.Limits(
        max_connections=options.concurrency, max_keepalive_connections=options.concurrency
    )
    async with httpx.AsyncClient(
        base_url=settings.api_base_url,
        headers={"Authorization": f"Bearer {stack.submitter_key}"},
        limits=limits,
        timeout=120,
    ) as client:
        yield client


def _parameters(options: Options, stack: BenchStack) -> Parameters:
    return Parameters(
        messages=options.messages,
        concurrency=options.concurrency,
        worker_mode=options.worker,
        history_sample=options.history_sample,
        cpu_cores=os.cpu_count() or 1,
        max_concurrent_deliveries=stack.settings.max_concurrent_deliveries,
        python=platform.python_version(),
        temporalio=version("temporalio"),
        platform=platform.platform(),
    )


def _notes(
    options: Options, heralds: list[HeraldResult], baselines: list[BaselineResult]
) -> list[str]:
    notes = [
        "submit → provider and submit → delivered start at the row's created_at (stamped by "
        "the API); POST /v1/messages is the client's round trip; the baselines' latencies "
        "start when the benchmark sends the workflow's start",
        "PostgreSQL runs pg_stat_statements for the statement counts",
    ]
    if options.worker == "inline":
        notes.append("workers ran in the benchmark's event loop, with the API and simulator")
    runs = [(f"Herald's run, {_workers(h.workers)}", h.cpu_seconds, h.throughput) for h in heralds]
    runs += [(f"{b.kind} baseline {b.run}", b.cpu_seconds, b.throughput) for b in baselines]
    notes += [note for run in runs if (note := _busy_machine(*run))]
    for herald in heralds:
        if herald.throughput.count != options.messages:
            delivered = herald.throughput.count
            notes.append(f"{delivered} delivered rows for {options.messages} submits")
    return notes


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count > 1 else ''}"


def _busy_machine(name: str, cpu: dict[str, float], run: Throughput) -> str | None:
    """A warning when other processes took a noticeable share of the CPU during a run."""
    other = cpu.get(OTHER, 0.0)
    capacity = run.seconds * (os.cpu_count() or 1)
    if other <= BUSY_MACHINE_SHARE * capacity:
        return None
    return (
        f"other processes used {other:.1f} of {capacity:.1f} CPU seconds during {name}: "
        "the machine was not quiet, so the figures are skewed"
    )


@contextmanager
def _workdir(chosen: Path | None) -> Iterator[Path]:
    """``chosen`` (new or empty, kept afterwards), or a temporary directory."""
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        if any(chosen.iterdir()):
            sys.exit(f"bench: --workdir {chosen} is not empty; every run needs a fresh one")
        yield chosen.resolve()
        return
    path = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _logging(log_file: Path) -> Iterator[None]:
    """Everything at INFO to ``log_file`` (as Herald's processes log), warnings to stderr."""
    file_handler = logging.FileHandler(log_file)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    for handler in (file_handler, console):
        handler.setFormatter(KeyValueFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[file_handler, console], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(file_handler)
        file_handler.close()


def _say(line: str) -> None:
    print(line, flush=True)


def _publish(result: BenchResult, results_dir: Path) -> None:
    stem = datetime.fromisoformat(result.started_at).strftime("%Y%m%dT%H%M%SZ")
    json_path = write_json(result, results_dir, stem)
    chart_path = results_dir / "latest.png"
    write_chart(result, chart_path)
    print(summary(result))
    print(f"\nWrote {json_path}, {results_dir / 'latest.json'} and {chart_path}")


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    results: list[BenchResult] = []

    async def run(workdir: Path) -> None:
        results.append(await benchmark(options, workdir))

    with _workdir(options.workdir) as workdir, _logging(workdir / "bench.log"):
        try:
            asyncio.run(until_signal(run(workdir)))
        except RuntimeError as error:
            sys.exit(f"bench: {error}\n(logs: {workdir}; keep them with --workdir)")
    if not results:
        sys.exit("bench: interrupted; nothing written")
    _publish(results[0], options.results_dir)


if __name__ == "__main__":
    main()
