"""Failpoints: named places in the sync path where a test can make the process die on the spot.

The crash-recovery suite (tests/reliability/test_crash_anywhere.py) proves that
a sync killed anywhere loses nothing. "Anywhere" has to be reproducible, so the
runner and the store call :func:`failpoint` at the places that matter (a
record read, a batch about to be written, each upsert, the state write, the
commit), and a test arms one of them through the environment::

    HUB_FAILPOINT="runner.after_state:3" hub sync

kills the process with SIGKILL the 3rd time it reaches ``runner.after_state``:
no ``finally``, no ``atexit``, no rollback, the same as ``kill -9`` or the
out-of-memory killer. The value is a comma-separated list of ``name:n``
(``name`` alone means ``name:1``); the process dies at whichever armed point it
reaches first. A line naming the point goes to stderr just before the kill.

The variable is read once, when this module is first imported. A process that
forks after importing the hub (the test harness does, to save the ~1 s start of
a new interpreter per run) arms its child with :func:`configure` instead. Not
armed, a failpoint is one function call and one test of a module global
(about 30 ns, the cost of calling an empty function; see
tests/hub/test_failpoints.py), so the calls stay in production code.

The failpoints, in the order a sync reaches them (hub/runner.py, hub/store.py):

``runner.run_started``
    the run's ``running`` row is committed, nothing read yet;
``runner.record``
    a record was read from the connector, before it is mapped;
``runner.batch_ready``
    a batch is complete (full, or a checkpoint arrived) and its transaction
    has not begun;
``store.upsert``
    one entity's rows were sent inside the open transaction;
``runner.quarantined``
    the batch's quarantine writes and resolutions were sent;
``runner.before_state``
    just before the checkpoint's state is written (checkpoint flushes only);
``runner.after_state``
    the state was written, the transaction is not committed;
``runner.before_commit``
    the last statement of the flush (run counts) was sent, COMMIT is next;
``runner.committed``
    the flush transaction was committed;
``runner.checkpoint``
    a checkpoint was fully handled, the next page has not been asked for.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Mapping

ENVIRONMENT_VARIABLE = "HUB_FAILPOINT"

#: name -> the hit that kills (1 = the first time the name is reached)
_armed: dict[str, int] = {}
_hits: Counter[str] = Counter()
_lock = threading.Lock()
#: True when anything is armed or counted; the only thing a disarmed call looks at
_active = False


def failpoint(name: str) -> None:
    """Mark the place ``name``; dies with SIGKILL when armed for this hit (see module doc)."""
    if _active:
        _reach(name)


def _reach(name: str) -> None:
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    if _armed.get(name) == hit:
        os.write(2, f"failpoint {name}:{hit} reached: SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


def parse(spec: str) -> dict[str, int]:
    """``"a:3,b"`` -> ``{"a": 3, "b": 1}``; ValueError saying what is wrong otherwise."""
    armed: dict[str, int] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, count = item.partition(":")
        name = name.strip()
        try:
            n = int(count) if count.strip() else 1
        except ValueError:
            n = 0
        if not name or n < 1:
            raise ValueError(
                f"{ENVIRONMENT_VARIABLE}: {item!r} is not name:n with n >= 1 "
                "(for example runner.record:5); see hub/failpoints.py for the names"
            )
        # a process dies at the first armed hit, so a name listed twice keeps its lowest n
        armed[name] = min(n, armed.get(name, n))
    return armed


def configure(spec: str | None, *, count: bool = False) -> None:
    """Arm the failpoints of ``spec`` (None or "" disarms all) and reset the hit counts.

    With ``count``, every hit is counted (see :func:`hits`) even when nothing is
    armed: a test learns from a clean run how often each point is reached.
    """
    global _active
    armed = parse(spec) if spec else {}
    with _lock:
        _armed.clear()
        _armed.update(armed)
        _hits.clear()
        _active = bool(armed) or count


def hits() -> Mapping[str, int]:
    """How often each failpoint was reached since :func:`configure` (while active)."""
    with _lock:
        return dict(_hits)


def armed() -> Mapping[str, int]:
    """The armed failpoints: name -> the hit that kills."""
    return dict(_armed)


configure(os.environ.get(ENVIRONMENT_VARIABLE))
