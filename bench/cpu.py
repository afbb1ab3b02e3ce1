"""CPU time by part of the stack, from ``/proc`` (Linux): where a phase's time goes.

A part is a process and its descendants (PostgreSQL's backends, for instance), including the
children it has reaped. The benchmark's own process is counted alone: its children are the
other parts. What the rest of the machine used meanwhile (other people's work on a shared
machine skews a benchmark) is the machine's busy time less the parts'.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bench.procs import PROC, TICKS_PER_SECOND, child_trees, has_proc, process_table

__all__ = ["OTHER", "TOTAL", "cpu_by_part", "cpu_delta", "cpu_ms_per_message"]

MACHINE = "whole machine"
OTHER = "other processes on the machine"
TOTAL = "total of this benchmark"


def cpu_by_part(own_label: str, labels: Mapping[int, str]) -> dict[str, float]:
    """CPU seconds so far of this process (``own_label``) and of each child process tree,
    named by ``labels`` (pid to name) or else by the child's command name. Empty without
    ``/proc``."""
    if not has_proc():
        return {}
    table = process_table()
    parts = {MACHINE: _machine_busy_seconds(), own_label: table[os.getpid()].own}
    for label, pids in child_trees(table, labels).items():
        parts[label] = sum(table[pid].own + table[pid].reaped for pid in pids)
    return parts


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds spent by each part between two :func:`cpu_by_part` readings, and by the
    other processes on the machine (:data:`OTHER`)."""
    spent = {label: after[label] - before.get(label, 0.0) for label in after}
    machine = spent.pop(MACHINE, None)
    if machine is not None:
        spent[OTHER] = max(0.0, machine - sum(spent.values()))
    return {label: round(seconds, 2) for label, seconds in spent.items()}


def cpu_ms_per_message(cpu: Mapping[str, float], messages: int) -> dict[str, float]:
    """Each part's CPU milliseconds per message of a run (a :func:`cpu_delta`), and their
    :data:`TOTAL`; the other processes on the machine are not the run's cost."""
    ours = {part: seconds for part, seconds in cpu.items() if part != OTHER}
    ours[TOTAL] = sum(ours.values())
    return {part: round(seconds * 1000 / max(messages, 1), 3) for part, seconds in ours.items()}


def _machine_busy_seconds() -> float:
    """CPU seconds all processors have spent in processes since boot (``/proc/stat``: user,
    nice and system time; interrupts, mostly our own loopback traffic, are left out)."""
    user, nice, system = (int(value) for value in (PROC / "stat").read_text().split()[1:4])
    return (user + nice + system) / TICKS_PER_SECOND
