"""Herald's payload converter and the SDK's default one read each other's payloads, for every
type that crosses Temporal: histories written before the change replay, and a client on the
default converter (the tests' own, an operator's script) reads what Herald's workers wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.converter import CompositePayloadConverter, DataConverter

from herald.core.contract import (
    AttemptRequest,
    AttemptResult,
    DeliveryJob,
    DeliveryPolicy,
    FailureClass,
    Line,
    MessageStatus,
    Priority,
    PriorityChange,
    Reprioritized,
    SequenceState,
    Transition,
)
from herald.core.explain import MessageView
from herald.core.housekeeping import HousekeepingPolicy, Purge, PurgeBatch, Purged
from herald.core.outcomes import (
    Recorded,
    SendGivenUp,
    WebhookPolicy,
    WebhookSendJob,
    WebhookSendState,
)
from herald.core.payloads import DATA_CONVERTER

AT = datetime(2026, 12, 4, 14, 30, 15, 123456, tzinfo=UTC)
POLICY = DeliveryPolicy(5, 0.5, 300, 30, 10, 86400, 3600, hold_line_on_dead_letter=True)
JOB = DeliveryJob(
    "6f1c0d0e-1111-4a4a-9e9e-000000000001",
    "+14155550123",
    Priority.HIGH,
    POLICY,
    AT,
    sequence_number=3,
    waits_for_turn=True,
    tenant_id="acme",
    tenant_weight=2.5,
    send_at=AT,
)
WEBHOOKS = WebhookPolicy(3, 1.5, 60, 5)

EVERY_TYPE: list[Any] = [
    JOB,
    SequenceState("+14155550123", 1000, "acme", 4, [JOB], {4: JOB.message_id}, [6, 7], True),
    AttemptRequest(JOB.message_id, 2, POLICY),
    AttemptResult(3, "gw-1", 1.5, MessageStatus.SUPPRESSED),
    Transition(
        JOB.message_id,
        MessageStatus.RETRYING,
        retry_count=2,
        next_retry_in_seconds=7.5,
        failure_reason="provider answered 503",
        failure_class=FailureClass.TRANSIENT,
        released_from_line=True,
        only_from=[MessageStatus.SENDING, MessageStatus.AWAITING_ACK],
        ack_timeout_attempt=2,
        priority=Priority.LOW,
    ),
    PriorityChange(JOB.message_id, Priority.LOW),
    Reprioritized(True, MessageStatus.RETRYING, 2, AT),
    Recorded(True, MessageStatus.DELIVERED, ["send-1", "send-2"], WEBHOOKS),
    WebhookSendJob("send-1", WEBHOOKS),
    SendGivenUp("send-1", "the endpoint answered 410"),
    HousekeepingPolicy(7.5, 500, 10),
    PurgeBatch(Purge.MESSAGES, AT, 100),
    Purged({"messages": 3, "webhook_sends": 0}),
    MessageView(JOB.message_id, MessageStatus.DEAD_LETTERED, "permanent: 400", AT, AT),
    Line("acme", "+14155550123"),
    MessageStatus.DELIVERED,
    Priority.NORMAL,
    WebhookSendState.FAILED,
]


@pytest.mark.parametrize("value", EVERY_TYPE, ids=lambda value: type(value).__name__)
@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        (DataConverter.default, DATA_CONVERTER),
        (DATA_CONVERTER, DataConverter.default),
        (DATA_CONVERTER, DATA_CONVERTER),
    ],
    ids=["default-to-herald", "herald-to-default", "herald-to-herald"],
)
def test_either_converter_reads_what_the_other_wrote(
    value: Any, writer: DataConverter, reader: DataConverter
) -> None:
    payloads = writer.payload_converter.to_payloads([value])
    [read] = reader.payload_converter.from_payloads(payloads, [type(value)])
    assert read == value
    assert type(read) is type(value)


def test_every_workflow_run_shares_the_process_type_adapters() -> None:
    """The SDK makes a payload converter for each workflow run: a cache of its own would
    build every type's pydantic schema again for each message (2.7 ms a run, measured)."""
    first, second = (DATA_CONVERTER.payload_converter_class() for _ in range(2))
    assert isinstance(first, CompositePayloadConverter)
    assert isinstance(second, CompositePayloadConverter)
    assert first is not second
    assert first.converters[b"json/plain"] is second.converters[b"json/plain"]
