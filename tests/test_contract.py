"""Unit tests: the retry maths and the workflow's retry policy."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from herald.core.contract import DeliveryPolicy, Priority
from herald.workflows.delivery import attempt_retry_policy

POLICY = DeliveryPolicy(
    max_retries=5,
    base_retry_delay_seconds=5,
    max_retry_delay_seconds=300,
    ack_timeout_seconds=300,
    attempt_timeout_seconds=20,
    validity_seconds=86400,
    dead_letter_retention_seconds=86400,
)


@pytest.mark.parametrize(
    ("retry_index", "seconds"), [(0, 5), (1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (20, 300)]
)
def test_retry_delay_doubles_up_to_the_maximum(retry_index: int, seconds: float) -> None:
    assert POLICY.retry_delay(retry_index) == timedelta(seconds=seconds)


def test_fractional_delays_are_kept() -> None:
    policy = dataclasses.replace(POLICY, base_retry_delay_seconds=0.5, max_retry_delay_seconds=1.5)
    assert [policy.retry_delay(n).total_seconds() for n in range(3)] == [0.5, 1.0, 1.5]


def test_five_retries_mean_six_attempts() -> None:
    assert POLICY.max_attempts == 6


def test_a_fresh_run_gets_the_whole_budget_and_the_base_delay() -> None:
    retry = attempt_retry_policy(POLICY, attempts_before=0)
    assert retry.maximum_attempts == 6
    assert retry.initial_interval == timedelta(seconds=5)
    assert retry.backoff_coefficient == 2.0
    assert retry.maximum_interval == timedelta(seconds=300)
    assert retry.non_retryable_error_types == ["PermanentDeliveryError"]


def test_a_run_after_an_ack_timeout_continues_the_schedule() -> None:
    retry = attempt_retry_policy(POLICY, attempts_before=2)
    assert retry.maximum_attempts == 4
    assert retry.initial_interval == timedelta(seconds=20)


def test_priorities_map_to_task_priority_keys() -> None:
    assert [p.task_priority_key for p in Priority] == [1, 3, 5]
