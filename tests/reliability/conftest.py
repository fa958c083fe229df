"""The reliability suite's figures: what each run tried, printed at the end and kept on disk.

Tests count what they exercised through the ``figures`` fixture
(``figures.add("crash points", 1)``, ``figures.add("faults: 429 storm", 1)``,
``figures.add("rows lost", 0)``). At the end of the session the totals are
printed under "reliability figures" and written to
``build/reliability-figures.json``; docs/reliability.md quotes the last run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[2] / "build" / "reliability-figures.json"


class Figures:
    """Totals of what the reliability tests exercised in this session."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount


_FIGURES = Figures()


@pytest.fixture
def figures() -> Figures:
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES.counts:
        return
    terminalreporter.section("reliability figures")
    for name, value in sorted(_FIGURES.counts.items()):
        terminalreporter.write_line(f"{name}: {value}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(dict(sorted(_FIGURES.counts.items())), indent=2) + "\n")
