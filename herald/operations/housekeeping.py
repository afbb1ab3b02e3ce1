"""The housekeeping Schedule: created, or brought up to date with the settings, by
``herald migrate`` (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from herald.core.housekeeping import HOUSEKEEPING_SCHEDULE_ID, HousekeepingPolicy
from herald.core.settings import Settings
from herald.workflows.housekeeping import Housekeeping

__all__ = ["ensure_housekeeping_schedule", "housekeeping_schedule"]


def housekeeping_schedule(settings: Settings) -> Schedule:
    policy = HousekeepingPolicy(
        retention_days=settings.message_retention_days,
        batch_size=settings.housekeeping_batch_size,
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            Housekeeping.run,
            policy,
            id=f"{HOUSEKEEPING_SCHEDULE_ID}-run",
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(
                    every=timedelta(minutes=settings.housekeeping_interval_minutes)
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_housekeeping_schedule(client: Client, settings: Settings) -> None:
    """Create the Schedule, or update the one there to the settings."""
    schedule = housekeeping_schedule(settings)
    try:
        await client.create_schedule(HOUSEKEEPING_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def updated(_input: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(HOUSEKEEPING_SCHEDULE_ID).update(updated)
