"""A run's figures as a readable summary and as JSON files under the results directory."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from bench.cpu import OTHER
from bench.stats import BenchResult, HistoryStats, Percentiles

__all__ = ["summary", "write_json"]


def write_json(result: BenchResult, results_dir: Path, stem: str) -> Path:
    """``<stem>.json`` and a copy as ``latest.json``; returns the first."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{stem}.json"
    path.write_text(json.dumps(asdict(result), indent=2, ensure_ascii=False) + "\n")
    shutil.copyfile(path, results_dir / "latest.json")
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
    ]


def _throughput(result: BenchResult) -> list[str]:
    herald = result.herald.throughput
    lines = [
        f"Herald             {herald.count:>6} delivered in {herald.seconds:>7.2f} s "
        f"{herald.per_second:>8.1f} messages/s"
    ]
    for baseline in result.baselines:
        run = baseline.throughput
        lines.append(
            f"Baseline ({baseline.run + ')':<7} {run.count:>6} workflows in {run.seconds:>7.2f} s "
            f"{run.per_second:>8.1f} workflows/s"
        )
    lines.append(
        f"Ratio              {result.ratio:.2f}  (Herald messages/s ÷ baseline workflows/s, "
        f"baseline mean {result.baseline_per_second:.1f}/s)"
    )
    if result.scale_out is not None:
        two = result.scale_out.throughput
        lines.append(
            f"Herald, 2 workers  {two.count:>6} delivered in {two.seconds:>7.2f} s "
            f"{two.per_second:>8.1f} messages/s, {result.scale_out_ratio:.2f} times one worker's"
        )
    return lines


def _latencies(result: BenchResult) -> list[str]:
    herald = result.herald
    rows = [
        ("POST /v1/messages (client)", herald.submit_response),
        ("submit → provider", herald.submit_to_provider),
        ("submit → delivered", herald.submit_to_delivered),
    ]
    return [
        f"{'Latency, ms':<28}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
        *(f"  {name:<26}{_cells(value)}" for name, value in rows),
    ]


def _cells(value: Percentiles) -> str:
    return "".join(f"{cell:>9.1f}" for cell in (value.p50, value.p95, value.p99, value.max))


def _histories(result: BenchResult) -> list[str]:
    lines = ["Temporal history events per workflow"]
    lines.append(_history_line("Herald message", result.herald.history))
    for baseline in result.baselines:
        lines.append(_history_line(f"baseline ({baseline.run})", baseline.history))
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


def _cpu(result: BenchResult) -> list[str]:
    runs = [("Herald", result.herald.cpu_seconds, result.herald.throughput.seconds)]
    if (two := result.scale_out) is not None:
        runs.append(("Herald, 2 workers", two.cpu_seconds, two.throughput.seconds))
    runs += [(f"baseline {b.run}", b.cpu_seconds, b.throughput.seconds) for b in result.baselines]
    parts = [part for part in dict.fromkeys(p for _, cpu, _ in runs for p in cpu) if part != OTHER]
    cores = result.parameters.cpu_cores
    rows = [
        *((part, [cpu.get(part, 0.0) for _, cpu, _ in runs]) for part in parts),
        ("total of this benchmark", [_ours(cpu) for _, cpu, _ in runs]),
        (OTHER, [cpu.get(OTHER, 0.0) for _, cpu, _ in runs]),
        ("capacity (wall seconds x cores)", [seconds * cores for _, _, seconds in runs]),
    ]
    return [
        "CPU seconds by part of the stack",
        f"  {'':<44}" + "".join(f"{name:>19}" for name, _, _ in runs),
        *(f"  {name:<44}" + "".join(f"{cell:>19.2f}" for cell in cells) for name, cells in rows),
    ]


def _ours(cpu: dict[str, float]) -> float:
    return sum(seconds for part, seconds in cpu.items() if part != OTHER)


def _batch(result: BenchResult) -> str:
    batch = result.batch
    if batch.seconds is None:
        return f"Batch of {batch.size}: {batch.note} (HTTP {batch.status_code})"
    rate = batch.size / batch.seconds
    return f"Batch of {batch.size}: accepted in {batch.seconds:.3f} s ({rate:.0f} messages/s)"
