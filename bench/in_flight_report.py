"""The readable summary of ``--in-flight N`` (its JSON is written like the throughput runs')."""

from __future__ import annotations

from bench.report import latency_table, table
from bench.stats import InFlightResult, MemoryReading

__all__ = ["in_flight_summary"]


def in_flight_summary(result: InFlightResult) -> str:
    p, load = result.parameters, result.load
    empty, loaded = result.empty, result.loaded
    return "\n".join(
        [
            f"Herald in-flight benchmark, {result.started_at}",
            f"  {p.in_flight} messages in flight awaiting acks; {p.probe_submits} submits per "
            f"probe, {p.concurrency} at once",
            f"  workers: {p.worker_mode}, {p.cpu_cores} CPU cores, max "
            f"{p.max_concurrent_deliveries} concurrent deliveries, ack timeout "
            f"{p.ack_timeout_seconds:g} s",
            "",
            f"Load: {load.messages} messages in batches of {p.batch_size}, submitted in "
            f"{load.submit_seconds:.1f} s, all awaiting_ack {load.settle_seconds:.1f} s after "
            f"the first batch ({load.messages / load.settle_seconds:.0f} messages/s)",
            "",
            *latency_table(
                "Submit latency (POST /v1/messages), ms",
                [
                    (f"empty ({empty.in_flight} in flight)", empty.submit_response),
                    (f"loaded ({loaded.in_flight} in flight)", loaded.submit_response),
                ],
            ),
            f"  p99 loaded ÷ empty: {result.p99_ratio:.2f}",
            "",
            *_worker(result),
            "",
            *_memory(result),
            "",
            *table(
                "CPU milliseconds per message of the load, by part",
                ["ms/message"],
                [(part, [ms]) for part, ms in load.cpu_ms_per_message.items()],
                ".2f",
            ),
            "",
            *(f"Note: {note}" for note in result.notes),
        ]
    )


def _worker(result: InFlightResult) -> list[str]:
    before, after = (probe.memory.get(result.worker) for probe in (result.empty, result.loaded))
    if before is None or after is None:
        return [f"{result.worker}: no memory figures (no /proc)"]
    return [
        f"{result.worker} RSS: {before.rss_mib:.1f} MiB empty, {after.rss_mib:.1f} MiB with "
        f"{result.loaded.in_flight} in flight (+{after.rss_mib - before.rss_mib:.1f} MiB); "
        f"peak {after.peak_rss_mib:.1f} MiB"
    ]


COLUMNS = {
    "RSS empty": ("empty", "rss_mib"),
    "PSS empty": ("empty", "pss_mib"),
    "RSS loaded": ("loaded", "rss_mib"),
    "PSS loaded": ("loaded", "pss_mib"),
    "peak RSS": ("loaded", "peak_rss_mib"),
}
"""The memory table's columns: which probe's reading, which figure of it."""


def _memory(result: InFlightResult) -> list[str]:
    probes = {"empty": result.empty.memory, "loaded": result.loaded.memory}
    rows: list[tuple[str, list[float | None]]] = []
    for part in dict.fromkeys([*probes["empty"], *probes["loaded"]]):
        readings = {probe: memory.get(part) for probe, memory in probes.items()}
        cells = [_figure(readings[probe], figure) for probe, figure in COLUMNS.values()]
        rows.append((_name(part, readings["loaded"]), cells))
    return table("Memory by part of the stack, MiB", list(COLUMNS), rows, ".1f")


def _figure(reading: MemoryReading | None, figure: str) -> float | None:
    value = None if reading is None else getattr(reading, figure)
    return None if value is None else float(value)


def _name(part: str, reading: MemoryReading | None) -> str:
    if reading is None or reading.processes == 1:
        return part
    return f"{part} ({reading.processes} processes)"
