"""Tracing: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a message is one trace, from the
caller's request through the workflow and its activities to the gateway and its ack;
without it, nothing is traced and no ``traceparent`` leaves Herald."""

from __future__ import annotations

import secrets

from herald.core.settings import Settings
from tests.collector import SpanCollector
from tests.servers import serving
from tests.stack import Stack, herald_on


def caller_traceparent() -> tuple[str, str, str]:
    """A ``traceparent`` as a caller's own tracing would send it, with its two ids."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


async def test_a_message_is_one_trace_from_the_submit_to_the_gateways_ack(
    settings: Settings,
) -> None:
    collector = SpanCollector()
    traceparent, trace_id, caller_span_id = caller_traceparent()
    async with serving(collector.app()) as collector_url:
        traced = settings.model_copy(update={"otel_exporter_otlp_endpoint": collector_url})
        async with herald_on(traced) as stack:
            response = await stack.api.post(
                "/v1/messages",
                json={"recipient": "+14155550123", "content": "traced"},
                headers={"traceparent": traceparent},
            )
            assert response.status_code == 202, response.text
            message_id = response.json()["id"]
            [delivery] = await stack.gateway.wait_for(message_id, 1)
            # The gateway acks with the traceparent it was sent, as the simulator does.
            await stack.wait_for_status(message_id, "awaiting_ack")
            ack = await stack.api.post(
                f"/v1/messages/{message_id}/ack",
                headers={"traceparent": delivery.headers["traceparent"]},
            )
            assert ack.status_code == 200, ack.text
            await stack.wait_for_status(message_id, "delivered")
        # Leaving the API and the worker exported what they still held.

    assert delivery.headers["traceparent"].split("-")[1] == trace_id
    spans = collector.in_trace(trace_id)
    names = {span.name for span in spans}
    assert {
        "POST /v1/messages",
        "StartWorkflow:MessageDelivery",
        "RunWorkflow:MessageDelivery",
        "StartActivity:deliver",
        "RunActivity:deliver",
        "POST provider",
        "POST /v1/messages/{message_id}/ack",
        "SignalWorkflow:acknowledge",
        "HandleSignal:acknowledge",
    } <= names, names
    # One tree: every span hangs from another span of the trace, or from the caller's.
    known = {span.span_id for span in spans} | {caller_span_id}
    assert [span for span in spans if span.parent_id not in known] == []
    assert {span.service for span in spans} == {"herald-api", "herald-worker"}


async def test_without_an_endpoint_nothing_is_propagated(stack: Stack) -> None:
    traceparent, _, _ = caller_traceparent()
    response = await stack.api.post(
        "/v1/messages",
        json={"recipient": "+14155550123", "content": "untraced"},
        headers={"traceparent": traceparent},
    )
    assert response.status_code == 202, response.text
    [delivery] = await stack.gateway.wait_for(response.json()["id"], 1)
    assert "traceparent" not in delivery.headers
