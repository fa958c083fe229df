"""Failpoints: armed by HUB_FAILPOINT they SIGKILL at the n-th hit; disarmed they cost nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import timeit
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import failpoints
from hub.failpoints import configure, failpoint, hits, parse

HUB = Path(__file__).resolve().parents[2] / "hub"

# Print a line per hit of "x", flushed, so the parent sees how far the child got.
COUNT_TO_FIVE = (
    "from hub.failpoints import failpoint\n"
    "for i in range(1, 6):\n"
    "    failpoint('x')\n"
    "    print(i, flush=True)\n"
)


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    configure(None)
    yield
    configure(None)


def run_child(spec: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != failpoints.ENVIRONMENT_VARIABLE}
    if spec is not None:
        env[failpoints.ENVIRONMENT_VARIABLE] = spec
    return subprocess.run(
        [sys.executable, "-c", COUNT_TO_FIVE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HUB.parent,
    )


def test_the_environment_arms_a_point_that_kills_at_its_nth_hit() -> None:
    result = run_child("x:3")
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == ["1", "2"]  # hits 1 and 2 passed, the 3rd killed
    assert "failpoint x:3 reached: SIGKILL" in result.stderr


def test_a_process_dies_at_the_first_armed_point_it_reaches() -> None:
    result = run_child("elsewhere:1, x:4 ,x:2")
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == ["1"]


@pytest.mark.parametrize("spec", [None, "", "x:6", "other.point:1"])
def test_unarmed_or_unreached_points_let_the_process_finish(spec: str | None) -> None:
    result = run_child(spec)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "2", "3", "4", "5"]


def test_a_malformed_variable_stops_the_process_with_what_to_write() -> None:
    result = run_child("x:zero")
    assert result.returncode == 1
    assert "HUB_FAILPOINT: 'x:zero' is not name:n with n >= 1" in result.stderr


@pytest.mark.parametrize("spec", ["x:0", "x:-2", ":3", "x:1.5", "x:three"])
def test_parse_rejects_what_is_not_name_colon_positive_count(spec: str) -> None:
    with pytest.raises(ValueError, match="is not name:n with n >= 1"):
        parse(spec)


def test_parse_reads_lists_defaults_to_the_first_hit_and_keeps_the_earliest() -> None:
    assert parse(" a:3 , b ,, a:2, c:10 ") == {"a": 2, "b": 1, "c": 10}


def test_configure_with_count_counts_every_hit_and_kills_nothing() -> None:
    configure(None, count=True)
    for name in ["a", "b", "a", "a"]:
        failpoint(name)
    assert hits() == {"a": 3, "b": 1}
    configure("a:9")  # reconfiguring starts the counts again
    failpoint("a")
    assert hits() == {"a": 1}
    assert failpoints.armed() == {"a": 9}


def test_disarmed_points_count_nothing() -> None:
    failpoint("a")
    assert hits() == {}
    assert failpoints.armed() == {}


def test_a_disarmed_point_costs_about_an_empty_function_call() -> None:
    def empty(name: str) -> None:
        pass

    def best(statement: str) -> float:
        namespace = {"failpoint": failpoint, "empty": empty}
        return min(timeit.repeat(statement, globals=namespace, number=200_000, repeat=5))

    baseline = best("empty('runner.record')")
    assert best("failpoint('runner.record')") < 2 * baseline + 0.01  # +10 ms for noise


def test_every_failpoint_in_the_code_is_documented_and_every_documented_one_exists() -> None:
    in_code = {
        name
        for path in HUB.rglob("*.py")
        if path.name != "failpoints.py"
        for name in re.findall(r'failpoint\("([^"]+)"\)', path.read_text())
    }
    documented = set(re.findall(r"^``([a-z_]+\.[a-z_]+)``$", failpoints.__doc__ or "", re.M))
    assert in_code, "no failpoint found in hub/"
    assert in_code == documented
