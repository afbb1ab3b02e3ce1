"""The figures of a run and the arithmetic behind them (percentiles, rates, timelines)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "BaselineResult",
    "BatchResult",
    "BenchResult",
    "DatabaseStats",
    "Environment",
    "HeraldResult",
    "HistoryStats",
    "InFlightParameters",
    "InFlightResult",
    "LoadResult",
    "MemoryReading",
    "Parameters",
    "Percentiles",
    "ProbeResult",
    "StatementStat",
    "Throughput",
    "percentiles",
    "throughput",
]


@dataclass(frozen=True)
class Percentiles:
    """Milliseconds."""

    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class Throughput:
    """``count`` completions in ``seconds`` from the first start to the last completion;
    ``timeline`` counts the completions in each second from the first start."""

    count: int
    seconds: float
    per_second: float
    timeline: list[int]


@dataclass(frozen=True)
class HistoryStats:
    """Temporal history events per workflow, over a sample of ``sample`` workflows."""

    sample: int
    mean_events: float
    by_type: dict[str, float]


@dataclass(frozen=True)
class StatementStat:
    query: str
    calls_per_message: float
    mean_ms: float


@dataclass(frozen=True)
class DatabaseStats:
    """PostgreSQL statements per delivered message (BEGIN and COMMIT count as statements)."""

    statements_per_message: float
    server_ms_per_message: float
    top: list[StatementStat]


@dataclass(frozen=True)
class HeraldResult:
    workers: int
    """Herald worker processes (or one inline) during the run."""
    submit_route: str
    submit_shape: str
    """How many submits at once (in flight, or in a batch)."""
    throughput: Throughput
    submit_response: Percentiles
    """Round trip of each message's submit seen by the client (through the batch route: its
    batch's)."""
    submit_to_provider: Percentiles
    """From the row's ``created_at`` to the first delivery attempt reaching the simulator."""
    submit_to_delivered: Percentiles
    """``delivered_at - created_at``."""
    history: HistoryStats
    database: DatabaseStats
    cpu_seconds: dict[str, float]
    cpu_ms_per_message: dict[str, float]
    """Each part's CPU milliseconds per delivered message, and their total."""


@dataclass(frozen=True)
class BaselineResult:
    kind: str
    """``bare`` (one no-op activity) or ``naive`` (Herald's shape, written naively)."""
    run: str
    """``before`` or ``after`` Herald's run."""
    throughput: Throughput
    start_to_closed: Percentiles
    """From the client sending the start to the close time Temporal recorded."""
    start_to_provider: Percentiles | None
    """``naive`` only: from the start sent to the first attempt reaching its simulator."""
    history: HistoryStats
    cpu_seconds: dict[str, float]
    cpu_ms_per_message: dict[str, float]
    """Each part's CPU milliseconds per completed workflow, and their total."""


@dataclass(frozen=True)
class BatchResult:
    size: int
    status_code: int | None
    seconds: float | None
    note: str


@dataclass(frozen=True)
class Environment:
    """What every mode's run is measured with."""

    concurrency: int
    worker_mode: str
    cpu_cores: int
    max_concurrent_deliveries: int
    python: str
    temporalio: str
    platform: str


@dataclass(frozen=True)
class Parameters(Environment):
    messages: int
    history_sample: int


@dataclass(frozen=True)
class BenchResult:
    started_at: str
    parameters: Parameters
    herald: HeraldResult
    bare: list[BaselineResult]
    """The bare baseline before and after Herald."""
    naive: list[BaselineResult]
    """The naive baseline before and after Herald."""
    bare_per_second: float
    """Mean of the bare runs."""
    naive_per_second: float
    """Mean of the naive runs."""
    herald_to_bare: float
    """Herald messages/s ÷ bare workflows/s."""
    herald_to_naive: float
    """Herald messages/s ÷ naive messages/s."""
    batch: BatchResult
    scale_out: HeraldResult | None = None
    """With ``--scale-out``: Herald again, with two workers."""
    scale_out_ratio: float | None = None
    """Its messages/s ÷ those of the one-worker run."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InFlightParameters(Environment):
    in_flight: int
    """Messages put in flight awaiting their acks."""
    probe_submits: int
    """``POST /v1/messages`` round trips timed on the empty system, then with the load."""
    batch_size: int
    """Messages per ``POST /v1/messages/batch`` of the load."""
    ack_timeout_seconds: float


@dataclass(frozen=True)
class MemoryReading:
    """One part of the stack: its processes' RSS and peak RSS (``VmRSS``, ``VmHWM``) summed,
    and their PSS (shared pages shared out; ``None`` where it could not be read), in MiB."""

    processes: int
    rss_mib: float
    peak_rss_mib: float
    pss_mib: float | None


@dataclass(frozen=True)
class ProbeResult:
    """Submit latency, one message at a time with the usual concurrency, and the memory by
    part once those messages too were awaiting their acks."""

    in_flight: int
    """Messages awaiting acks when the probe started."""
    submits: int
    seconds: float
    submit_response: Percentiles
    cpu_seconds: dict[str, float]
    memory: dict[str, MemoryReading]


@dataclass(frozen=True)
class LoadResult:
    """Putting the messages in flight: their batches, then the wait until all await acks."""

    messages: int
    submit_seconds: float
    """From the first batch sent to the last answered."""
    settle_seconds: float
    """From the first batch sent until PostgreSQL showed them all ``awaiting_ack``."""
    cpu_seconds: dict[str, float]
    cpu_ms_per_message: dict[str, float]


@dataclass(frozen=True)
class InFlightResult:
    """``--in-flight N``: submit latency and memory on the empty system, then with N messages
    in flight awaiting their acks."""

    started_at: str
    parameters: InFlightParameters
    worker: str
    """The Herald worker's part name in ``memory`` and ``cpu_seconds``."""
    empty: ProbeResult
    load: LoadResult
    loaded: ProbeResult
    p99_ratio: float
    """Submit p99 loaded ÷ empty."""
    notes: list[str] = field(default_factory=list)


def percentiles(seconds: Sequence[float]) -> Percentiles:
    """p50 / p95 / p99 / max of durations given in seconds (at least one), in milliseconds."""
    values = sorted(seconds) * (2 if len(seconds) == 1 else 1)  # quantiles needs two
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    chosen = (cuts[49], cuts[94], cuts[98], values[-1])
    return Percentiles(*(round(value * 1000, 1) for value in chosen))


def throughput(started: float, completions: Sequence[float]) -> Throughput:
    """From the first start (POSIX time) and the completion times."""
    seconds = max(completions) - started
    timeline = [0] * (math.floor(seconds) + 1)
    for completed in completions:
        timeline[max(0, math.floor(completed - started))] += 1
    rate = len(completions) / seconds
    return Throughput(len(completions), round(seconds, 3), round(rate, 1), timeline)
