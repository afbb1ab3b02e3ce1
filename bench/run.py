"""``python -m bench.run``: Herald's load benchmark (``make bench``).

In a work directory (temporary unless ``--workdir``) it starts an embedded PostgreSQL, a
Temporal dev server on a file database, Herald's API and the provider simulator, all on this
machine. By default it runs the throughput runs (:mod:`bench.throughput`): the bare baseline
(one no-op activity per workflow), the naive one (Herald's shape written naively: deliver,
wait for the ack signal, with its own ack receiver and simulator), Herald with ``--messages``
messages, then the naive and the bare baselines again, each with its own worker; then it
times the accept of one batch, with no worker running. It prints a summary and writes
``<timestamp>.json``, ``latest.json`` and ``latest.png`` under ``--results-dir``.

With ``--in-flight N`` it runs that mode alone (:mod:`bench.in_flight`): submit latency and
memory on the empty system, then with N messages in flight awaiting their acks; it prints a
summary and writes ``<timestamp>-in-flight.json`` and ``latest-in-flight.json``.

Everything it started is stopped at the end, on failure and on Ctrl-C. Not a test: it asserts
nothing about Herald's behaviour.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bench.chart import write_chart
from bench.in_flight import in_flight_benchmark
from bench.in_flight_report import in_flight_summary
from bench.options import Options, parse_args
from bench.report import summary, write_json
from bench.stats import BenchResult, InFlightResult
from bench.throughput import throughput_benchmark
from herald import lifecycle
from herald.core.logs import KeyValueFormatter
from herald.lifecycle import until_signal

__all__ = ["main"]

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


async def benchmark(options: Options, workdir: Path) -> BenchResult | InFlightResult:
    if options.in_flight is not None:
        return await in_flight_benchmark(options, options.in_flight, workdir)
    return await throughput_benchmark(options, workdir)


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


def _publish(result: BenchResult | InFlightResult, results_dir: Path) -> None:
    stem = datetime.fromisoformat(result.started_at).strftime("%Y%m%dT%H%M%SZ")
    if isinstance(result, InFlightResult):
        json_path = write_json(result, results_dir, f"{stem}-in-flight", "latest-in-flight")
        print(in_flight_summary(result))
        print(f"\nWrote {json_path} and {results_dir / 'latest-in-flight.json'}")
        return
    json_path = write_json(result, results_dir, stem, "latest")
    chart_path = results_dir / "latest.png"
    write_chart(result, chart_path)
    print(summary(result))
    print(f"\nWrote {json_path}, {results_dir / 'latest.json'} and {chart_path}")


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    results: list[BenchResult | InFlightResult] = []

    async def run(workdir: Path) -> None:
        results.append(await benchmark(options, workdir))

    with _workdir(options.workdir) as workdir, _logging(workdir / "bench.log"):
        try:
            # Herald's API runs here, as `herald api` runs it (uvicorn would pick uvloop for
            # the naive API on its own too).
            lifecycle.run(until_signal(run(workdir)))
        except RuntimeError as error:
            sys.exit(f"bench: {error}\n(logs: {workdir}; keep them with --workdir)")
    if not results:
        sys.exit("bench: interrupted; nothing written")
    _publish(results[0], options.results_dir)


if __name__ == "__main__":
    main()
