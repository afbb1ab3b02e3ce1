"""The API's Prometheus exposition (``GET /metrics``).

Two kinds of series:

* from PostgreSQL (:func:`herald.core.metrics.summarize`), recomputed on an interval rather
  than per scrape, so every API process answers the same numbers for the whole system:
  ``herald_queue_depth``, ``herald_messages_delivered_per_second``,
  ``herald_circuit_breaker_state``, ..., and ``herald_metrics_age_seconds``;
* this process's own, in a registry per app (no global state, so a test can build several
  apps): requests by route and status, their latency, and the process's CPU and memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from herald.core.metrics import MetricsSummary
from herald.core.models import CircuitBreakerState

__all__ = ["UNMATCHED_ROUTE", "ApiMetrics"]

UNMATCHED_ROUTE = "unmatched"
"""The ``route`` label of a request no route matched: paths are not labels (unbounded)."""


class ApiMetrics:
    """This API process's own series, and the exposition of everything."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(namespace="herald", registry=self.registry)
        self._requests = Counter(
            "herald_api_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._durations = Histogram(
            "herald_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.labels(route, method, str(status)).inc()
        self._durations.labels(route, method).observe(seconds)

    def exposition(
        self, summary: MetricsSummary | None, age_seconds: float | None, accept: str | None
    ) -> tuple[bytes, str]:
        """The body and its content type, in the format the scraper accepts (text or
        OpenMetrics); the summary's gauges once there is one, with its age."""
        encode, content_type = choose_encoder(accept or "")
        collectors: list[Collector] = [self.registry]
        if summary is not None and age_seconds is not None:
            collectors.append(SummaryCollector(summary, age_seconds))
        return encode(_Scrape(*collectors)), content_type


class _Scrape:
    """One scrape's collectors, exposed as one (an OpenMetrics body has a single end)."""

    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


class SummaryCollector:
    """The summary's numbers as gauges (ratios 0..1, durations in seconds)."""

    def __init__(self, summary: MetricsSummary, age_seconds: float) -> None:
        self._summary = summary
        self._age_seconds = age_seconds

    def collect(self) -> Iterator[Metric]:
        summary = self._summary
        yield _gauge(
            "herald_metrics_age_seconds",
            "Seconds since this API process last computed the herald_ gauges from PostgreSQL",
            self._age_seconds,
        )
        yield _gauge(
            "herald_metrics_window_seconds",
            "Length of the sliding window of the windowed herald_ gauges",
            summary.window_seconds,
        )
        yield _gauge(
            "herald_messages_delivered_per_second",
            "Messages delivered (acknowledged) in the window, per second",
            summary.messages_per_second,
        )
        if summary.average_processing_time_ms is not None:
            yield _gauge(
                "herald_average_processing_time_seconds",
                "Mean time from submit to acknowledgment of the messages delivered in the window",
                summary.average_processing_time_ms / 1000,
            )
        yield _gauge(
            "herald_retry_rate",
            "Share of delivery attempts that were retries, among messages settled in the window",
            summary.retry_rate,
        )
        yield _gauge(
            "herald_failure_rate",
            "Share of the messages settled in the window that were dead-lettered",
            summary.failure_rate,
        )
        yield _labelled_gauge(
            "herald_queue_depth",
            "Messages under way now (pending to awaiting_ack), by priority",
            ["priority"],
            (([priority.value], count) for priority, count in summary.queue_depth.items()),
        )
        yield _labelled_gauge(
            "herald_circuit_breaker_state",
            "1 for each provider's current circuit breaker state, 0 for the others",
            ["provider", "state"],
            (
                ([provider, state.value], float(state is current))
                for provider, current in summary.circuit_breaker_state.items()
                for state in CircuitBreakerState
            ),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled_gauge(
    name: str,
    documentation: str,
    labels: list[str],
    samples: Iterable[tuple[list[str], float]],
) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        gauge.add_metric(values, value)
    return gauge
