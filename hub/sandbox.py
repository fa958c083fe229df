"""What every local sandbox server shares: a loopback HTTP server in a thread, and a CLI loop.

A connector's sandbox (``connectors/<name>/sandbox``), used by ``hub demo``, tests
and benchmarks, subclasses
:class:`LoopbackServer` for its lifecycle (``url``, ``start``, ``stop``, a
context manager) and writes only its data and routes; its ``__main__`` calls
:func:`serve_until_signal`.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that serves from a background thread."""

    #: The name of the serving thread (shows in thread dumps).
    thread_name = "sandbox"

    def _listen(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        """Bind 127.0.0.1:``port`` (0: any free port); call once from ``__init__``."""
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the connector's ``base_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=self.thread_name,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve_until_signal(
    make: Callable[[], LoopbackServer], describe: Callable[[LoopbackServer], str], name: str
) -> int:
    """Start the sandbox ``make()`` builds, print ``describe(it)``, serve until SIGINT/SIGTERM.

    Returns the process exit code: 0 after a signal, 2 when the server cannot start.
    """
    try:
        sandbox = make()
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the sandbox: {exc}", file=sys.stderr)
        if isinstance(exc, OSError):
            print("hint: choose another --port, or --port 0 for any free one", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with sandbox:
        print(describe(sandbox), "Stop with Ctrl-C.", sep="\n", flush=True)
        while not stop.wait(0.5):
            pass
    print(f"{name} sandbox stopped.", flush=True)
    return 0
