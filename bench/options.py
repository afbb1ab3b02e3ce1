"""The benchmark's command line (``python -m bench.run --help``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from bench.herald_phase import SubmitMode
from bench.workers import WorkerMode

__all__ = ["RESULTS_DIR", "Options", "parse_args"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Options:
    messages: int
    concurrency: int
    submit: SubmitMode
    worker: WorkerMode
    history_sample: int
    batch_size: int
    timeout: float
    results_dir: Path
    workdir: Path | None
    scale_out: bool
    in_flight: int | None
    """``--in-flight N``: that mode alone, instead of the throughput runs."""
    probe_submits: int


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Herald's load benchmark (not a test)."
    )
    parser.add_argument("--messages", type=int, default=1000, help="messages to deliver")
    parser.add_argument("--concurrency", type=int, default=50, help="submits in flight")
    parser.add_argument(
        "--submit",
        choices=get_args(SubmitMode),
        default="single",
        help="Herald's throughput runs submit one POST /v1/messages a message, --concurrency "
        "in flight (default), or through POST /v1/messages/batch, --batch-size messages a "
        "request, one request at a time",
    )
    parser.add_argument(
        "--worker",
        choices=get_args(WorkerMode),
        default="process",
        help="run Herald's and the baselines' workers in processes of their own (default), "
        "or in the benchmark's event loop",
    )
    parser.add_argument("--history-sample", type=int, default=50, help="histories to read")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="messages in the timed batch; with --submit batch, in each request of Herald's "
        "runs; with --in-flight, in each batch of the load (at most HERALD_BATCH_SIZE_LIMIT)",
    )
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
    parser.add_argument(
        "--in-flight",
        type=int,
        metavar="N",
        help="instead of the throughput runs: submit latency and memory on the empty system, "
        "then with N messages in flight awaiting acks that never come",
    )
    parser.add_argument(
        "--probe-submits",
        type=int,
        default=300,
        help="with --in-flight: single submits timed on the empty system and again loaded",
    )
    args = parser.parse_args(argv)
    counts = (args.messages, args.concurrency, args.history_sample, args.batch_size)
    in_flight = 1 if args.in_flight is None else args.in_flight
    if min(*counts, args.probe_submits, in_flight) < 1:
        parser.error("counts must be at least 1")
    if args.worker == "inline" and (args.scale_out or args.in_flight):
        parser.error("--scale-out and --in-flight run worker processes: use --worker process")
    if args.in_flight and args.submit != "single":
        parser.error("--in-flight puts its load in through batches already; drop --submit")
    if args.scale_out and args.in_flight:
        parser.error("--in-flight runs alone, without the throughput runs --scale-out adds to")
    return Options(
        args.messages,
        args.concurrency,
        args.submit,
        args.worker,
        args.history_sample,
        args.batch_size,
        args.timeout,
        args.results_dir,
        args.workdir,
        args.scale_out,
        args.in_flight,
        args.probe_submits,
    )
