"""One run per connection: across threads and processes, released when the holder dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hub.errors import RunLockedError
from hub.locks import connection_lock
from hub.store import Store


def test_second_holder_is_refused_until_the_first_lets_go(database_url: str) -> None:
    store = Store(database_url)
    with connection_lock(store, "shop"):
        with (
            pytest.raises(RunLockedError, match="already being synced"),
            connection_lock(store, "shop"),
        ):
            pass
        with connection_lock(store, "other-connection"):
            pass
    with connection_lock(store, "shop"):
        pass


def test_in_memory_store_locks_within_the_process() -> None:
    store = Store("sqlite://")
    with connection_lock(store, "shop"):
        with pytest.raises(RunLockedError), connection_lock(store, "shop"):
            pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from hub.locks import connection_lock
            from hub.store import Store
            with connection_lock(Store({url!r}), "shop"):
                print("held", flush=True)
                time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store = Store(url)
        with pytest.raises(RunLockedError), connection_lock(store, "shop"):
            pass
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 5
        with connection_lock(store, "shop", wait=max(0.0, deadline - time.monotonic())):
            pass
    finally:
        holder.kill()
        holder.wait()
