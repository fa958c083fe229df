"""Reading ahead: a connector's messages produced in a background thread, a bounded way ahead.

While the runner maps and writes one page, the next page is already being
requested and parsed: the API (or the fake one beside it) works while the
hub works, instead of each waiting for the other. The queue between the two
holds at most ``max_items`` messages, so memory stays flat however large the
source is.

What the consumer sees is exactly the source's sequence: the same items in
the same order, then the source's own end or its exception, raised at the
same place in the sequence. Nothing about checkpoints changes: the consumer
still commits a checkpoint only after every record before it. Closing the
reader stops the thread and closes the source in that thread (a generator
must be closed by the thread that runs it).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long :meth:`Prefetch.close` waits for the thread to finish what it is doing
#: (a request, a retry's sleep) before leaving it behind as a daemon.
CLOSE_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.05


class _End:
    """The source has no more items."""


class _Failure:
    """The source raised ``error``; the consumer raises it at the same place."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch(Generic[T], Iterator[T]):
    """Iterates ``source`` in a thread, about ``max_items`` items ahead of the consumer.

    Precisely: at most ``max_items`` items wait in the queue, plus the chunk
    being filled and what is left of the chunk the consumer is taking items from.

    Items travel in chunks of up to ``chunk`` (one lock round-trip per chunk, not
    per item); a chunk is handed over early after an item for which ``flush``
    is true (a checkpoint must not wait for the next page's request).
    """

    def __init__(
        self,
        source: Iterator[T],
        *,
        max_items: int = 500,
        chunk: int = 50,
        flush: Callable[[T], bool] = lambda _item: False,
        name: str = "prefetch",
    ) -> None:
        if max_items < 1 or chunk < 1:
            raise ValueError("max_items and chunk must be at least 1")
        self._source = source
        self._chunk = min(chunk, max_items)
        self._flush = flush
        self._queue: queue.Queue[list[T] | _End | _Failure] = queue.Queue(
            maxsize=max(1, max_items // self._chunk)
        )
        self._stopping = threading.Event()
        self._pending: list[T] = []
        self._finished = False
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producer thread

    def _produce(self) -> None:
        chunk: list[T] = []
        try:
            for item in self._source:
                chunk.append(item)
                if len(chunk) >= self._chunk or self._flush(item):
                    if not self._put(chunk):
                        return
                    chunk = []
            if chunk and not self._put(chunk):
                return
            self._put(_End())
        except BaseException as exc:  # handed to the consumer, raised there
            # the items read before the error come first, as they would without a thread
            if not chunk or self._put(chunk):
                self._put(_Failure(exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.debug("closing the prefetched source failed", exc_info=True)

    def _put(self, item: list[T] | _End | _Failure) -> bool:
        """Hand ``item`` over, waiting for room; False once the consumer closed."""
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    # ------------------------------------------------------------------ consumer side

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        if not self._pending:
            if self._finished:
                raise StopIteration
            got = self._queue.get()
            if isinstance(got, _End):
                self._finished = True
                raise StopIteration
            if isinstance(got, _Failure):
                self._finished = True
                raise got.error
            got.reverse()  # pop() from the end is O(1)
            self._pending = got
        return self._pending.pop()

    def close(self) -> None:
        """Stop reading ahead; the source is closed in its thread. Safe to call twice."""
        self._finished = True
        self._pending = []
        self._stopping.set()
        self._drain()
        self._thread.join(CLOSE_WAIT_SECONDS)
        if self._thread.is_alive():
            log.warning(
                "the connector's reader did not stop within %.0f s (a request or a retry "
                "wait in progress); it is left to finish in the background",
                CLOSE_WAIT_SECONDS,
            )
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()
