"""The notes under a summary: how the figures were taken, and the runs they cannot be trusted
for because other processes on the machine took a noticeable share of the CPU meanwhile."""

from __future__ import annotations

import os
from collections.abc import Iterable

from bench.cpu import OTHER

__all__ = ["busy_machine_notes"]

BUSY_MACHINE_SHARE = 0.1
"""Other processes' share of the CPU above which a run is flagged as skewed."""

Run = tuple[str, dict[str, float], float]
"""A run's name, its CPU seconds by part (with :data:`bench.cpu.OTHER`), its wall seconds."""


def busy_machine_notes(runs: Iterable[Run]) -> list[str]:
    """A warning for each run during which other processes took more than
    :data:`BUSY_MACHINE_SHARE` of the machine's CPU."""
    notes = []
    for name, cpu, seconds in runs:
        other = cpu.get(OTHER, 0.0)
        capacity = seconds * (os.cpu_count() or 1)
        if other > BUSY_MACHINE_SHARE * capacity:
            notes.append(
                f"other processes used {other:.1f} of {capacity:.1f} CPU seconds during "
                f"{name}: the machine was not quiet, so the figures are skewed"
            )
    return notes
