"""The PNG chart of a run: throughput over time, and latency percentiles (Herald's and the
naive baseline's)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display; before pyplot is imported

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.stats import BenchResult

__all__ = ["write_chart"]

PERCENTILES = ("p50", "p95", "p99")


def write_chart(result: BenchResult, path: Path) -> None:
    figure, (timeline, latency) = plt.subplots(1, 2, figsize=(13, 5))
    _plot_throughput(timeline, result)
    _plot_latencies(latency, result)
    parameters = result.parameters
    figure.suptitle(
        f"Herald benchmark, {parameters.messages} messages, {parameters.concurrency} in flight, "
        f"workers {parameters.worker_mode}, {parameters.cpu_cores} cores ({result.started_at})"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_throughput(axes: Axes, result: BenchResult) -> None:
    herald = result.herald.throughput
    axes.stairs(
        herald.timeline,
        range(len(herald.timeline) + 1),
        label=f"Herald deliveries/s (mean {herald.per_second:.1f})",
        linewidth=2,
    )
    for baseline in [*result.naive, *result.bare]:
        run = baseline.throughput
        axes.stairs(
            run.timeline,
            range(len(run.timeline) + 1),
            label=f"{baseline.kind} {baseline.run}: completions/s (mean {run.per_second:.1f})",
            linestyle="--" if baseline.kind == "bare" else ":",
        )
    axes.set_xlabel("seconds since the first submit / start")
    axes.set_ylabel("per second")
    axes.set_title("Throughput over time")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)


def _plot_latencies(axes: Axes, result: BenchResult) -> None:
    series = {
        "Herald submit → provider": result.herald.submit_to_provider,
        "Herald submit → delivered": result.herald.submit_to_delivered,
    }
    for naive in result.naive:
        if naive.start_to_provider is not None:
            series[f"naive {naive.run} start → provider"] = naive.start_to_provider
        series[f"naive {naive.run} start → closed"] = naive.start_to_closed
    width = 0.8 / len(series)
    for offset, (name, values) in enumerate(series.items()):
        heights = [getattr(values, percentile) for percentile in PERCENTILES]
        positions = [index + offset * width for index in range(len(PERCENTILES))]
        bars = axes.bar(positions, heights, width, label=name)
        axes.bar_label(bars, fmt="%.0f", fontsize=7)
    axes.set_xticks([index + width * (len(series) - 1) / 2 for index in range(len(PERCENTILES))])
    axes.set_xticklabels(PERCENTILES)
    axes.set_ylabel("milliseconds")
    axes.set_title("Latency percentiles, Herald and the naive baseline")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8)
