"""Checkpointing a SQLite database's write-ahead log on a thread of its own.

In WAL mode every commit appends pages to the ``-wal`` file; a *checkpoint*
copies them into the database file and fsyncs it. SQLite runs one itself
inside the commit that crosses ``wal_autocheckpoint`` pages, so the writing
thread waited for it: about an eighth of a 10,000-order sync
(docs/performance.md). A checkpoint is a single call into SQLite that
releases the GIL for its whole length, so on a thread of its own it runs on
the machine's other core while the sync goes on mapping and writing.

The :class:`Store` pokes its checkpointer after every commit; the thread
runs a ``PASSIVE`` checkpoint (it never waits for, nor blocks, the writer or
a reader) on a connection of its own, and ends after a second without work,
so an idle hub keeps no thread. Committed data is durable in the WAL before
any checkpoint, so a crash at any moment loses nothing (SQLite replays the
WAL on the next open). The writing connections keep an automatic checkpoint
as a safety net (``wal_autocheckpoint``) for writes that do not poke.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: Seconds without a poke after which the thread ends (a later poke starts a new one).
IDLE_SECONDS = 1.0


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` in the background when poked."""

    def __init__(self, path: Path, *, idle: float = IDLE_SECONDS) -> None:
        self.path = path
        self.idle = idle
        self.checkpoints = 0
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def poke(self) -> None:
        """New pages were committed: checkpoint them soon (starts the thread if needed)."""
        self._wanted.set()
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(
                target=self._run, name=f"wal checkpoint {self.path.name}", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the thread (after the checkpoint under way, if any)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wanted.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                if not self._wanted.wait(self.idle):
                    with self._lock:  # a poke after the wait timed out finds no thread
                        if not self._wanted.is_set():
                            self._thread = None
                            return
                if self._closed:
                    return
                self._wanted.clear()
                if connection is None:
                    connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
        except sqlite3.Error as exc:  # the next commit pokes again; SQLite's own is the net
            log.debug("background WAL checkpoint of %s failed: %s", self.path, exc)
            with self._lock:
                self._thread = None
        finally:
            if connection is not None:
                connection.close()
