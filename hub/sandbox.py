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
import traceback
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, NamedTuple, Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Reply(NamedTuple):
    """What a sandbox answers one request with."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that serves from a background thread.

    A sandbox implements :meth:`respond` (its routes), :meth:`failure` (its
    API's 500 body, for a bug in the sandbox itself) and, to let tests count
    and inspect requests, :meth:`record`. The request loop is shared:
    keep-alive HTTP/1.1, every answer with a Content-Length, JSON unless the
    reply says otherwise.
    """

    #: The name of the serving thread (shows in thread dumps).
    thread_name = "sandbox"
    #: The ``Server`` header.
    server_name = "Sandbox"
    content_type = "application/json; charset=utf-8"

    def respond(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        """Answer one request (``target``: path and query string, as sent)."""
        raise NotImplementedError

    def failure(self, error: Exception) -> Reply:
        """The answer when :meth:`respond` raised: a 500 in the imitated API's error shape."""
        return Reply(500, f'{{"error": "sandbox error: {type(error).__name__}"}}'.encode())

    def record(self, method: str, target: str, status: int, body: bytes) -> None:
        """Note one answered request (default: nothing)."""

    def _listen(self, port: int) -> None:
        """Bind 127.0.0.1:``port`` (0: any free port); call once from ``__init__``."""
        self._server = _Server(("127.0.0.1", port), _handler(self))
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


def _handler(sandbox: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stalls

        def version_string(self) -> str:
            return sandbox.server_name

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                reply = sandbox.respond(self.command, self.path, self.headers, body)
            except Exception as exc:  # a sandbox bug: say so instead of hanging up
                traceback.print_exc(file=sys.stderr)
                reply = sandbox.failure(exc)
            sandbox.record(self.command, self.path, reply.status, body)
            self.send_response(reply.status)
            names = {name.lower() for name, _ in reply.headers}
            if reply.body and "content-type" not in names:
                self.send_header("Content-Type", sandbox.content_type)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    return Handler


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
