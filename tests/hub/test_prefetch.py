"""hub.prefetch: the source's exact sequence, read ahead in a thread, a bounded way ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hub.prefetch import Prefetch


class Boom(Exception):
    pass


@pytest.mark.parametrize(("count", "max_items", "chunk"), [(0, 5, 2), (1, 1, 1), (1000, 64, 16)])
def test_items_arrive_in_the_sources_order_and_end(count: int, max_items: int, chunk: int) -> None:
    with Prefetch(iter(range(count)), max_items=max_items, chunk=chunk) as ahead:
        assert list(ahead) == list(range(count))
        assert list(ahead) == []  # ended stays ended


def test_the_sources_error_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield from range(7)
        raise Boom("page 3 failed")

    got: list[int] = []
    with Prefetch(source(), max_items=4, chunk=3) as ahead, pytest.raises(Boom, match="page 3"):
        for item in ahead:
            got.append(item)
    assert got == list(range(7))


def test_the_reader_stays_at_most_max_items_ahead() -> None:
    produced = 0
    lead: list[int] = []

    def source() -> Iterator[int]:
        nonlocal produced
        for item in range(300):
            produced += 1
            yield item

    with Prefetch(source(), max_items=20, chunk=5) as ahead:
        for consumed, _item in enumerate(ahead, start=1):
            time.sleep(0.0005)
            lead.append(produced - consumed)
    # queued chunks + the chunk being filled + the rest of the chunk being consumed
    assert max(lead) <= 20 + 5 + 5
    assert max(lead) > 5  # it did read ahead


def test_a_flush_item_is_handed_over_without_waiting_for_a_full_chunk() -> None:
    handed = threading.Event()

    def source() -> Iterator[str]:
        yield "record"
        yield "checkpoint"
        # the next page "takes long": it must not hold the checkpoint back
        assert handed.wait(10), "the checkpoint was held back until the next page"
        yield "later"

    with Prefetch(source(), max_items=100, chunk=50, flush=lambda x: x == "checkpoint") as ahead:
        assert [next(ahead), next(ahead)] == ["record", "checkpoint"]
        handed.set()
        assert list(ahead) == ["later"]


def test_close_stops_the_reader_and_closes_the_source_in_its_own_thread() -> None:
    closed_in: list[str] = []
    produced = 0

    def source() -> Iterator[int]:
        nonlocal produced
        try:
            for item in range(10_000):
                produced += 1
                yield item
        finally:
            closed_in.append(threading.current_thread().name)

    ahead = Prefetch(source(), max_items=10, chunk=2, name="reader-under-test")
    assert next(ahead) == 0
    ahead.close()  # the reader is blocked on a full queue: close must still return
    assert closed_in == ["reader-under-test"]
    stopped_at = produced
    time.sleep(0.1)
    assert produced == stopped_at < 100
    with pytest.raises(StopIteration):
        next(ahead)
    ahead.close()  # twice is fine


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Prefetch(iter([]), max_items=0)
