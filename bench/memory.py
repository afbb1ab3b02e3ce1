"""Memory by part of the stack, from ``/proc`` (Linux): this process alone, and each child
of it with its descendants (see :mod:`bench.procs`).

A part's RSS and peak RSS (``VmRSS``, ``VmHWM``) are summed over its processes, so shared
memory (PostgreSQL's shared buffers) counts once per process that touched it; its PSS
(``smaps_rollup``) shares each page out among the processes that map it, so it adds up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from bench.procs import PROC, child_trees, has_proc, process_table
from bench.stats import MemoryReading

__all__ = ["memory_by_part"]

KIB_PER_MIB = 1024


def memory_by_part(own_label: str, labels: Mapping[int, str]) -> dict[str, MemoryReading]:
    """This process (``own_label``) and each child process tree, named by ``labels`` (pid
    to name) or else by the child's command name. Empty without ``/proc``."""
    if not has_proc():
        return {}
    parts = {own_label: [os.getpid()], **child_trees(process_table(), labels)}
    return {label: _reading(pids) for label, pids in parts.items()}


def _reading(pids: Iterable[int]) -> MemoryReading:
    rss = peak = pss = 0
    processes, pss_known = 0, True
    for pid in pids:
        status = _fields_kib(f"{pid}/status")
        if "VmRSS" not in status:
            continue  # exited meanwhile, or a zombie
        processes += 1
        rss, peak = rss + status["VmRSS"], peak + status.get("VmHWM", status["VmRSS"])
        rollup = _fields_kib(f"{pid}/smaps_rollup")
        pss_known = pss_known and "Pss" in rollup
        pss += rollup.get("Pss", 0)
    return MemoryReading(
        processes=processes,
        rss_mib=_mib(rss),
        peak_rss_mib=_mib(peak),
        pss_mib=_mib(pss) if pss_known else None,
    )


def _fields_kib(name: str) -> dict[str, int]:
    """The ``Key: N kB`` lines of a ``/proc`` file; empty if it cannot be read."""
    try:
        text = (PROC / name).read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0])
    return fields


def _mib(kib: int) -> float:
    return round(kib / KIB_PER_MIB, 1)
