"""The process table from ``/proc`` (Linux), and the parts of the stack in it: this process,
and each child of it with all its descendants (PostgreSQL's backends, for instance). What
:mod:`bench.cpu` and :mod:`bench.memory` read their figures from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

__all__ = ["PROC", "TICKS_PER_SECOND", "Process", "child_trees", "has_proc", "process_table"]

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Process(NamedTuple):
    parent: int
    own: float
    """CPU seconds of the process itself."""
    reaped: float
    """CPU seconds of its children that have exited and been waited for."""
    name: str


def has_proc() -> bool:
    return (PROC / "self" / "stat").exists()


def process_table() -> dict[int, Process]:
    table: dict[int, Process] = {}
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
        table[int(entry.name)] = Process(
            int(fields[1]), own / TICKS_PER_SECOND, reaped / TICKS_PER_SECOND, name
        )
    return table


def child_trees(table: Mapping[int, Process], labels: Mapping[int, str]) -> dict[str, list[int]]:
    """The pids of each child of this process and of its descendants, by the child's label
    in ``labels`` (pid to name) or else its command name; children of one name share a part."""
    children: dict[int, list[int]] = {}
    for pid, process in table.items():
        children.setdefault(process.parent, []).append(pid)
    parts: dict[str, list[int]] = {}
    for child in children.get(os.getpid(), []):
        label = labels.get(child, table[child].name)
        tree, stack = parts.setdefault(label, []), [child]
        while stack:
            pid = stack.pop()
            tree.append(pid)
            stack.extend(children.get(pid, []))
    return parts
