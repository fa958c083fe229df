"""The ``hub`` command's cyclic garbage collector, set for streaming records.

A sync creates and drops containers by the million (each page parsed into
dicts and lists, each record copied, mapped and validated into more), and
CPython's cyclic collector runs every 700 new containers. Almost none of them
are in cycles: plain reference counting frees them. The collector still
scans the young ones every time, and every so often all the long-lived
objects too: the ~90,000 that importing SQLAlchemy, pydantic and the hub
leaves behind. Profiling a 10,000-order sync put about a tenth of its time
there (docs/performance.md).

:func:`tune` moves what exists after start-up into the collector's permanent
generation (``gc.freeze``: modules, classes and functions, never garbage)
and lets the young generation grow to a page's worth of containers before a
collection. Cycles are still collected, only in larger steps; memory stays
flat (measured with ``bench/sync_bench.py``). Only the ``hub`` command calls
it, once, at start: the hub used as a library leaves its host's collector
alone.
"""

from __future__ import annotations

import gc

#: New containers between two collections of the young generation (CPython: 700).
YOUNG_THRESHOLD = 10_000


def tune() -> None:
    """Freeze what start-up created and collect the young generation less often."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
