"""SIGKILL in the middle of a multi-page stream, re-run: the database equals a clean sync's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.support import TOKEN, dump_database, hub_command, hub_env, run_hub, write_config
from tests.fakes.paged_api import FakeApi

ORDERS, PAGE = 60, 7  # nine pages


@pytest.fixture(scope="module")
def clean_sync(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[object, ...]]]:
    directory = tmp_path_factory.mktemp("clean")
    with FakeApi(orders=ORDERS, token=TOKEN) as api:
        run_hub(write_config(directory, api.url, page_size=PAGE), "sync")
    return dump_database(f"sqlite:///{directory / 'hub.db'}")


def conversions(database: Path) -> int:
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        count = int(connection.execute(text("select count(*) from conversion")).scalar_one())
    engine.dispose()
    return count


def sync_killed_at(directory: Path, request_number: int, *args: str) -> None:
    """Run `hub sync` and SIGKILL it when the fake API receives request ``request_number``."""
    process: list[subprocess.Popen[str]] = []

    def kill(number: int, _path: str) -> None:
        if number == request_number:
            os.kill(process[0].pid, signal.SIGKILL)

    with FakeApi(orders=ORDERS, token=TOKEN, on_request=kill) as api:
        config = write_config(directory, api.url, page_size=PAGE)
        process.append(
            subprocess.Popen(
                hub_command(config, "sync", *args),
                env=hub_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        process[0].communicate(timeout=120)
    assert process[0].returncode == -signal.SIGKILL, "the sync finished before it was killed"


# Without read-ahead, request k arrives after pages 1..k-1 were committed, which pins
# where each kill lands; with it (the default) the kill lands wherever the writer is.
IN_TURN = ("--read-ahead", "0")


@pytest.mark.parametrize(
    ("kill_at", "args"),
    [
        (2, IN_TURN),  # after the first page was committed
        (5, IN_TURN),  # mid-stream
        (9, IN_TURN),  # while asking for the last page
        (4, (*IN_TURN, "--batch-size", "5")),  # rows of an unfinished page committed early
        (5, ()),  # reading ahead of the writer
    ],
)
def test_killed_sync_rerun_equals_clean_sync(
    tmp_path: Path,
    clean_sync: dict[str, list[tuple[object, ...]]],
    kill_at: int,
    args: tuple[str, ...],
) -> None:
    sync_killed_at(tmp_path, kill_at, *args)
    stored = conversions(tmp_path / "hub.db")
    committed_before_kill = PAGE * (kill_at - 1) if IN_TURN[0] in args else 0
    assert committed_before_kill <= stored < ORDERS, "the kill did not land mid-stream"

    with FakeApi(orders=ORDERS, token=TOKEN) as api:
        run_hub(write_config(tmp_path, api.url, page_size=PAGE), "sync", *args)
        resumed_from = api.requests[0]
    assert "updated_since" in resumed_from, "the re-run did not resume from the checkpoint"

    assert dump_database(f"sqlite:///{tmp_path / 'hub.db'}") == clean_sync
    runs = json.loads(run_hub(tmp_path / "hub.yaml", "runs", "--json").stdout)
    # the killed run is closed, not left 'running'
    assert [r["status"] for r in runs] == ["succeeded", "failed"]
    assert "stopped without finishing" in runs[1]["error"]


def test_killed_twice_then_rerun_equals_clean_sync(
    tmp_path: Path, clean_sync: dict[str, list[tuple[object, ...]]]
) -> None:
    sync_killed_at(tmp_path, 3)
    sync_killed_at(tmp_path, 4, *IN_TURN)
    with FakeApi(orders=ORDERS, token=TOKEN) as api:
        run_hub(write_config(tmp_path, api.url, page_size=PAGE), "sync")
    assert dump_database(f"sqlite:///{tmp_path / 'hub.db'}") == clean_sync


def test_sigterm_stops_at_the_next_checkpoint_and_a_rerun_completes(
    tmp_path: Path, clean_sync: dict[str, list[tuple[object, ...]]]
) -> None:
    process: list[subprocess.Popen[str]] = []

    def terminate(number: int, _path: str) -> None:
        if number == 3:
            process[0].send_signal(signal.SIGTERM)

    with FakeApi(orders=ORDERS, token=TOKEN, on_request=terminate) as api:
        config = write_config(tmp_path, api.url, page_size=PAGE)
        process.append(
            subprocess.Popen(
                hub_command(config, "sync", *IN_TURN),
                env=hub_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        _, stderr = process[0].communicate(timeout=120)
    assert process[0].returncode == 1 and "stopping at the next checkpoint" in stderr
    assert conversions(tmp_path / "hub.db") == PAGE * 3  # the page in flight was finished
    runs = json.loads(run_hub(config, "runs", "--json").stdout)
    assert runs[0]["status"] == "interrupted"

    with FakeApi(orders=ORDERS, token=TOKEN) as api:
        run_hub(write_config(tmp_path, api.url, page_size=PAGE), "sync")
    assert dump_database(f"sqlite:///{tmp_path / 'hub.db'}") == clean_sync
