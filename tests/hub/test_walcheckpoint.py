"""hub.walcheckpoint: the WAL reaches the database file without the writer waiting for it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from hub.store import Store
from hub.walcheckpoint import WalCheckpointer


def eventually(condition: Callable[[], bool], within: float = 20.0) -> bool:
    """Poll ``condition`` (a correctness check with a generous deadline, not a timing)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def database_file_holds_every_page(path: Path) -> bool:
    with sqlite3.connect(path) as reader:
        pages = reader.execute("PRAGMA page_count").fetchone()[0]
        size = reader.execute("PRAGMA page_size").fetchone()[0]
    return path.stat().st_size == pages * size


def fill(store: Store, rows: int = 2000) -> None:
    with store.transaction() as db:
        db.execute(text("CREATE TABLE IF NOT EXISTS payload (n INTEGER, body TEXT)"))
        db.execute(
            text("INSERT INTO payload VALUES (:n, :body)"),
            [{"n": n, "body": "x" * 500} for n in range(rows)],
        )


def test_commits_through_the_store_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = Store(f"sqlite:///{path}")
    try:
        fill(store)  # about 1 MB: far below SQLite's own automatic checkpoint (~40 MB)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        assert eventually(lambda: checkpointer.checkpoints >= 1)
        assert eventually(lambda: database_file_holds_every_page(path))
    finally:
        store.dispose()


def test_the_thread_ends_when_idle_and_a_poke_starts_another(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    checkpointer = WalCheckpointer(path, idle=0.05)
    checkpointer.poke()
    assert eventually(lambda: checkpointer.checkpoints == 1 and checkpointer._thread is None)
    checkpointer.poke()
    assert eventually(lambda: checkpointer.checkpoints == 2 and checkpointer._thread is None)
    checkpointer.close()


def test_after_close_pokes_start_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    checkpointer = WalCheckpointer(path)
    checkpointer.poke()
    checkpointer.close()
    done = checkpointer.checkpoints
    checkpointer.poke()
    assert checkpointer._thread is None or not checkpointer._thread.is_alive()
    assert checkpointer.checkpoints == done


def test_a_failing_checkpoint_ends_the_thread_quietly(tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(tmp_path / "missing" / "hub.db", idle=0.05)
    checkpointer.poke()  # the folder does not exist: sqlite3 cannot open the file
    assert eventually(lambda: checkpointer._thread is None)
    assert checkpointer.checkpoints == 0
    checkpointer.close()


def test_a_database_in_memory_has_no_checkpointer() -> None:
    store = Store("sqlite:///:memory:")
    assert store._checkpointer is None
    store.dispose()
