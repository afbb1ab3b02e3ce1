"""OpenTelemetry tracing, off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

When on, each process exports its spans over OTLP/HTTP (``<endpoint>/v1/traces``), and one
message is one trace: the API's request span (continuing the caller's ``traceparent`` if it
sends one), Temporal's spans for starting and running the workflow and its activities (the
SDK's ``TracingInterceptor`` carries the context in Temporal headers), and the provider call,
which sends ``traceparent`` on to the gateway. When off, the tracer is a no-op and no
interceptor is installed, so Temporal calls cost what they did.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NoOpTracer, Tracer
from temporalio.contrib.opentelemetry import TracingInterceptor

from herald.core.settings import Settings

__all__ = ["Tracing"]

TRACER_NAME = "herald"


@dataclass(frozen=True)
class Tracing:
    """A process's tracer, and the provider behind it when tracing is on; leaving it as a
    context manager exports the spans still buffered."""

    tracer: Tracer
    provider: TracerProvider | None = None

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> Tracing:
        """On, exporting as ``service`` (``service.name``), when an endpoint is set."""
        endpoint = settings.otel_exporter_otlp_endpoint
        if endpoint is None:
            return cls(NoOpTracer())
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider.get_tracer(TRACER_NAME), provider)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def temporal_interceptors(self) -> list[TracingInterceptor]:
        """For ``Client.connect``: the client's calls and the worker's tasks are traced."""
        return [TracingInterceptor(self.tracer)] if self.enabled else []

    async def __aenter__(self) -> Tracing:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Export what is left. In a thread: the exporter's HTTP calls block."""
        if self.provider is not None:
            await asyncio.to_thread(self.provider.shutdown)
