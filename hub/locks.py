"""One run per connection at a time, across threads, processes and machines.

The lock is released by the operating system or the database when its holder
dies, so a sync killed with SIGKILL never leaves a stale lock behind:

- file-backed SQLite: an exclusive ``flock`` on ``<db>.locks/<connection>.lock``;
- PostgreSQL: a session-level advisory lock held on a dedicated connection;
- in-memory SQLite: a lock inside this process.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from hub.errors import RunLockedError
from hub.store import Store

_POLL_SECONDS = 0.2
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _busy(connection: str) -> RunLockedError:
    return RunLockedError(
        f"connection {connection!r} is already being synced by another run",
        hint="wait for it to finish (`hub runs` shows it), or run again later",
    )


def _advisory_key(connection: str) -> int:
    digest = hashlib.sha256(b"partner-hub:" + connection.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def connection_lock(store: Store, connection: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the run lock of ``connection``; wait up to ``wait`` seconds, else RunLockedError."""
    deadline = time.monotonic() + wait
    if store.dialect == "postgresql":
        with store.engine.connect() as db:
            key = _advisory_key(connection)
            while not db.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() >= deadline:
                    raise _busy(connection)
                time.sleep(_POLL_SECONDS)
            try:
                yield
            finally:
                db.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                db.commit()
        return

    path = store.sqlite_path
    if path is None:
        with _process_lock(connection, deadline):
            yield
        return

    lock_dir = path.with_name(path.name + ".locks")
    lock_dir.mkdir(exist_ok=True)
    safe_name = hashlib.sha256(connection.encode()).hexdigest()[:16]
    with (lock_dir / f"{safe_name}.lock").open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(connection) from None
                time.sleep(_POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(connection)
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _process_lock(connection: str, deadline: float) -> Iterator[None]:
    with _process_locks_guard:
        lock = _process_locks.setdefault(connection, threading.Lock())
    timeout = max(0.0, deadline - time.monotonic())
    acquired = lock.acquire(timeout=timeout) if timeout else lock.acquire(blocking=False)
    if not acquired:
        raise _busy(connection)
    try:
        yield
    finally:
        lock.release()
