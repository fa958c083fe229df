"""hub.gc_tuning: the ``hub`` command freezes its start-up objects and collects in larger steps."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hub.cli
from hub import gc_tuning


def test_tune_freezes_what_exists_and_raises_the_young_threshold() -> None:
    # in a child process: freezing this one would keep the test session's garbage
    script = (
        "import gc, hub.gc_tuning as t; before = gc.get_threshold(); t.tune(); "
        "print(gc.get_freeze_count(), *gc.get_threshold(), *before)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    frozen, young, middle, old, _, default_middle, default_old = map(int, done.stdout.split())
    assert frozen > 1000  # the interpreter's and the hub's own modules, classes, functions
    assert young == gc_tuning.YOUNG_THRESHOLD
    assert (middle, old) == (default_middle, default_old)


def test_cycles_are_still_collected_after_tuning() -> None:
    script = (
        "import gc, weakref, hub.gc_tuning as t; t.tune()\n"
        "class Node: pass\n"
        "a, b = Node(), Node(); a.other, b.other = b, a; gone = weakref.ref(a); del a, b\n"
        # containers that live a while (a page's records) are what triggers a collection
        "page = [[] for _ in range(3 * t.YOUNG_THRESHOLD)]\n"
        "print(gone() is None)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"


def test_the_hub_command_tunes_once_before_running(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(gc_tuning, "tune", lambda: calls.append("tune"))
    monkeypatch.setattr(sys, "argv", ["hub", "--help"])
    with pytest.raises(SystemExit):
        hub.cli.main()
    assert calls == ["tune"]
