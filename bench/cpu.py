"""CPU time by part of the stack, from ``/proc`` (Linux): where a phase's time goes.

A part is a process and its descendants (PostgreSQL's backends, for instance), including the
children it has reaped. The benchmark's own process is counted alone: its children are the
other parts. What the rest of the machine used meanwhile (other people's work on a shared
machine skews a benchmark) is the machine's busy time less the parts'.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

__all__ = ["OTHER", "cpu_by_part", "cpu_delta"]

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MACHINE = "whole machine"
OTHER = "other processes on the machine"


def cpu_by_part(own_label: str, labels: Mapping[int, str]) -> dict[str, float]:
    """CPU seconds so far of this process (``own_label``) and of each child process tree,
    named by ``labels`` (pid to name) or else by the child's command name. Empty without
    ``/proc``."""
    if not (PROC / "self" / "stat").exists():
        return {}
    table = _process_table()
    me = os.getpid()
    parts = {MACHINE: _machine_busy_seconds(), own_label: table[me].own}
    for pid, (parent, _, _, name) in table.items():
        if parent == me:
            label = labels.get(pid, name)
            parts[label] = parts.get(label, 0.0) + _tree_seconds(pid, table)
    return parts


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds spent by each part between two :func:`cpu_by_part` readings, and by the
    other processes on the machine (:data:`OTHER`)."""
    spent = {label: after[label] - before.get(label, 0.0) for label in after}
    machine = spent.pop(MACHINE, None)
    if machine is not None:
        spent[OTHER] = max(0.0, machine - sum(spent.values()))
    return {label: round(seconds, 2) for label, seconds in spent.items()}


def _machine_busy_seconds() -> float:
    """CPU seconds all processors have spent in processes since boot (``/proc/stat``: user,
    nice and system time; interrupts, mostly our own loopback traffic, are left out)."""
    user, nice, system = (int(value) for value in (PROC / "stat").read_text().split()[1:4])
    return (user + nice + system) / TICKS_PER_SECOND


class _Process(NamedTuple):
    parent: int
    own: float
    """CPU seconds of the process itself."""
    reaped: float
    """CPU seconds of its children that have exited and been waited for."""
    name: str


def _process_table() -> dict[int, _Process]:
    table: dict[int, _Process] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # After the name: state, ppid, ..., utime (14th field of the line), stime, cutime, cstime.
        own, reaped = (sum(int(value) for value in pair) for pair in (fields[11:13], fields[13:15]))
        table[int(entry.name)] = _Process(
            int(fields[1]), own / TICKS_PER_SECOND, reaped / TICKS_PER_SECOND, name
        )
    return table


def _tree_seconds(root: int, table: Mapping[int, _Process]) -> float:
    children: dict[int, list[int]] = {}
    for pid, process in table.items():
        children.setdefault(process.parent, []).append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += table[pid].own + table[pid].reaped
        stack.extend(children.get(pid, []))
    return total
