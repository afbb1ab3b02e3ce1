"""A run's figures as a readable summary and as JSON files under the results directory."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.cpu import OTHER, TOTAL
from bench.stats import (
    BaselineResult,
    BenchResult,
    HistoryStats,
    InFlightResult,
    Percentiles,
    Throughput,
)

__all__ = ["latency_table", "summary", "table", "write_json"]


def write_json(
    result: BenchResult | InFlightResult, results_dir: Path, stem: str, latest: str
) -> Path:
    """``<stem>.json`` and a copy as ``<latest>.json``; returns the first."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{stem}.json"
    path.write_text(json.dumps(asdict(result), indent=2, ensure_ascii=False) + "\n")
    shutil.copyfile(path, results_dir / f"{latest}.json")
    return path


def summary(result: BenchResult) -> str:
    return "\n".join(
        [
            *_header(result),
            "",
            *_throughput(result),
            "",
            *_latencies(result),
            "",
            *_histories(result),
            "",
            *_database(result),
            "",
            *_cpu(result),
            "",
            _batch(result),
            *(f"Note: {note}" for note in result.notes),
        ]
    )


def _header(result: BenchResult) -> list[str]:
    p = result.parameters
    return [
        f"Herald benchmark, {result.started_at}",
        f"  {p.messages} messages, {p.concurrency} in flight, workers: {p.worker_mode}, "
        f"{p.cpu_cores} CPU cores, max {p.max_concurrent_deliveries} concurrent deliveries",
        f"  Herald's submits: {result.herald.submit_route}, {result.herald.submit_shape}; "
        f"the baselines' workflow starts: {p.concurrency} in flight",
    ]


def _throughput(result: BenchResult) -> list[str]:
    herald = result.herald.throughput
    lines = ["Throughput", _rate_line("Herald", herald, "delivered", "messages/s")]
    if result.scale_out is not None:
        ratio = f"messages/s, {result.scale_out_ratio:.2f} times one worker's"
        lines.append(
            _rate_line("Herald, 2 workers", result.scale_out.throughput, "delivered", ratio)
        )
    for run in _baselines(result):
        words = ("delivered", "messages/s") if run.kind == "naive" else ("workflows", "workflows/s")
        lines.append(_rate_line(f"{run.kind} baseline ({run.run})", run.throughput, *words))
    lines += [
        f"  Herald ÷ naive {result.herald_to_naive:>8.2f}  (naive baseline mean "
        f"{result.naive_per_second:.1f} messages/s)",
        f"  Herald ÷ bare  {result.herald_to_bare:>8.2f}  (bare baseline mean "
        f"{result.bare_per_second:.1f} workflows/s)",
    ]
    return lines


def _rate_line(name: str, run: Throughput, done: str, unit: str) -> str:
    return (
        f"  {name:<24}{run.count:>6} {done:<9} in {run.seconds:>7.2f} s "
        f"{run.per_second:>8.1f} {unit}"
    )


def _baselines(result: BenchResult) -> list[BaselineResult]:
    """The baseline runs in the order they ran."""
    before = [run for run in (*result.bare, *result.naive) if run.run == "before"]
    after = [run for run in (*result.naive, *result.bare) if run.run == "after"]
    return before + after


def _latencies(result: BenchResult) -> list[str]:
    herald = result.herald
    rows = [
        (f"Herald {herald.submit_route} (client)", herald.submit_response),
        ("Herald submit → provider", herald.submit_to_provider),
        ("Herald submit → delivered", herald.submit_to_delivered),
    ]
    for run in _baselines(result):
        name = f"{run.kind} ({run.run})"
        if run.start_to_provider is not None:
            rows.append((f"{name} start → provider", run.start_to_provider))
        rows.append((f"{name} start → closed", run.start_to_closed))
    return latency_table("Latency, ms", rows)


def latency_table(title: str, rows: Sequence[tuple[str, Percentiles]]) -> list[str]:
    """A row of p50 / p95 / p99 / max a measure."""
    label = max(len(title) - 2, *(len(name) for name, _ in rows)) + 2
    return [
        f"{title:<{label + 2}}" + "".join(f"{name:>9}" for name in ("p50", "p95", "p99", "max")),
        *(f"  {name:<{label}}{_cells(value)}" for name, value in rows),
    ]


def _cells(value: Percentiles) -> str:
    return "".join(f"{cell:>9.1f}" for cell in (value.p50, value.p95, value.p99, value.max))


def _histories(result: BenchResult) -> list[str]:
    lines = ["Temporal history events per workflow"]
    lines.append(_history_line("Herald message", result.herald.history))
    for run in _baselines(result):
        lines.append(_history_line(f"{run.kind} ({run.run})", run.history))
    return lines


def _history_line(name: str, history: HistoryStats) -> str:
    kinds = ", ".join(f"{kind} {count:g}" for kind, count in history.by_type.items())
    return f"  {name:<18}{history.mean_events:>6.1f}  (sample {history.sample}: {kinds})"


def _database(result: BenchResult) -> list[str]:
    database = result.herald.database
    return [
        f"PostgreSQL per delivered message: {database.statements_per_message:g} statements, "
        f"{database.server_ms_per_message:g} ms of server time",
        f"  {'calls/msg':>9} {'mean ms':>8}  statement",
        *(
            f"  {top.calls_per_message:>9.2f} {top.mean_ms:>8.3f}  {top.query}"
            for top in database.top
        ),
    ]


@dataclass(frozen=True)
class _Run:
    name: str
    cpu_seconds: dict[str, float]
    cpu_ms_per_message: dict[str, float]
    seconds: float


def _runs(result: BenchResult) -> list[_Run]:
    """Every run, in the order they ran."""
    runs = [
        _Run(f"{b.kind} {b.run}", b.cpu_seconds, b.cpu_ms_per_message, b.throughput.seconds)
        for b in _baselines(result)
    ]
    heralds = [("Herald", result.herald)]
    if result.scale_out is not None:
        heralds.append(("Herald, 2 workers", result.scale_out))
    middle = len(runs) // 2
    runs[middle:middle] = [
        _Run(name, h.cpu_seconds, h.cpu_ms_per_message, h.throughput.seconds) for name, h in heralds
    ]
    return runs


def _cpu(result: BenchResult) -> list[str]:
    runs = _runs(result)
    parts = [p for p in dict.fromkeys(p for run in runs for p in run.cpu_seconds) if p != OTHER]
    cores = result.parameters.cpu_cores
    seconds: list[tuple[str, list[float | None]]] = [
        *((part, [run.cpu_seconds.get(part) for run in runs]) for part in parts),
        (TOTAL, [_ours(run.cpu_seconds) for run in runs]),
        (OTHER, [run.cpu_seconds.get(OTHER) for run in runs]),
        ("capacity (wall seconds x cores)", [run.seconds * cores for run in runs]),
    ]
    per_message: list[tuple[str, list[float | None]]] = [
        (part, [run.cpu_ms_per_message.get(part) for run in runs]) for part in [*parts, TOTAL]
    ]
    names = [run.name for run in runs]
    return [
        *table("CPU seconds by part of the stack", names, seconds, ".2f"),
        "",
        *table("CPU milliseconds per message, by part", names, per_message, ".2f"),
    ]


def table(
    title: str, columns: list[str], rows: list[tuple[str, list[float | None]]], fmt: str
) -> list[str]:
    """A row a part, a column a run; ``-`` where a part had no process in that run."""
    label = max(len(name) for name, _ in rows) + 2
    width = max(len(name) for name in columns) + 2
    return [
        title,
        f"  {'':<{label}}" + "".join(f"{name:>{width}}" for name in columns),
        *(
            f"  {name:<{label}}"
            + "".join(f"{'-' if cell is None else format(cell, fmt):>{width}}" for cell in cells)
            for name, cells in rows
        ),
    ]


def _ours(cpu: dict[str, float]) -> float:
    return sum(seconds for part, seconds in cpu.items() if part != OTHER)


def _batch(result: BenchResult) -> str:
    batch = result.batch
    if batch.seconds is None:
        return f"Batch of {batch.size}: {batch.note} (HTTP {batch.status_code})"
    rate = batch.size / batch.seconds
    return f"Batch of {batch.size}: accepted in {batch.seconds:.3f} s ({rate:.0f} messages/s)"
