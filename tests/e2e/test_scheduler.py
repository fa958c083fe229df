"""`hub scheduler` as operators run it: scheduled syncs, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.support import TOKEN, hub_command, hub_env, run_hub, write_config
from tests.fakes.paged_api import FakeApi


def start_scheduler(config: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        hub_command(config, "scheduler"),
        env=hub_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "scheduler started: acme-orders" in first, first
    return process


def scheduled(directory: Path, url: str) -> Path:
    config = write_config(directory, url)
    document = yaml.safe_load(config.read_text())
    document["connections"]["acme-orders"]["schedule"] = "* * * * *"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_scheduler_stops_cleanly_on_a_signal(tmp_path: Path, stop_signal: int) -> None:
    process = start_scheduler(scheduled(tmp_path, "http://127.0.0.1:9"))
    time.sleep(0.5)
    process.send_signal(stop_signal)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "scheduler stopped" in stdout
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_the_scheduler_runs_a_due_connection(tmp_path: Path) -> None:
    with FakeApi(orders=10, token=TOKEN) as api:
        config = scheduled(tmp_path, api.url)
        process = start_scheduler(config)
        try:
            deadline = time.monotonic() + 75  # the next minute boundary, and the run
            while time.monotonic() < deadline and not api.requests:
                time.sleep(0.5)
            time.sleep(2)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0 and api.requests, stderr
    runs = json.loads(run_hub(config, "runs", "--json").stdout)
    assert runs[0]["status"] == "succeeded" and runs[0]["counts"]["entities"]["conversion"] == 10
    assert TOKEN not in stderr
