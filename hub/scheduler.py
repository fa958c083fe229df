"""Run connections on their cron schedules, never two runs of one connection at once.

Schedules are evaluated in UTC. Each scheduled connection remembers the last
tick at which it was considered; it is due when its cron expression fired
after that. So a process that was busy or asleep across several slots runs a
connection once, not once per missed slot, and a fresh start does not replay
history (started at 10:07, ``*/15`` first runs at 10:15).

Runs happen on a thread pool; in distributed mode (:func:`enqueuing_run`) a
"run" only sends the sync to the Celery workers' queue. A run is handed the
scheduler's stop event: on SIGINT/SIGTERM (or :meth:`Scheduler.stop`) no new
run starts, running syncs are asked to stop at their next checkpoint, and the
scheduler waits for them.

The clock and the sleep are injected so the whole thing is tested without
real time passing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from croniter import croniter
from pydantic_core import PydanticCustomError

from hub.config import HubConfig, validate_schedule
from hub.errors import ConfigError, Problem, RunLockedError

log = logging.getLogger("hub.scheduler")

#: The longest the loop sleeps between ticks, so a wall-clock jump is noticed soon.
MAX_SLEEP_SECONDS = 30.0
#: The shortest sleep, so a clock that lags the timer never makes the loop spin.
MIN_SLEEP_SECONDS = 0.05

RunFunction = Callable[[str, threading.Event], object]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the scheduler needs timezone-aware times; got a naive datetime")
    return moment.astimezone(UTC)


def enqueuing_run(hub: HubConfig) -> RunFunction:
    """A run function for distributed mode: each due connection is sent to the workers' queue.

    The scheduler then only decides *when*; `hub worker` processes run the syncs.
    One scheduler process per deployment is enough (two would enqueue every
    tick twice; the run lock keeps the duplicate from running at the same
    time, but it would run after the first). A connection whose previous sync
    is still going when its task arrives is skipped by the worker (see
    hub.worker), so runs never overlap.
    """
    from hub.worker import celery_app, enqueue  # Celery is an optional dependency

    app = celery_app(hub)

    def run(name: str, _stop: threading.Event) -> object:
        ((_, task_id),) = enqueue(hub, [name], app=app)
        log.info("%s: enqueued as task %s", name, task_id)
        return task_id

    return run


class _Entry:
    """One scheduled connection: its cron expression and when it was last considered."""

    def __init__(self, name: str, schedule: str, last: datetime) -> None:
        self.name = name
        self.schedule = schedule
        self.last = last

    def next_fire(self) -> datetime:
        """The first cron slot strictly after the last tick."""
        fire: datetime = croniter(self.schedule, self.last).get_next(datetime)
        return fire.astimezone(UTC)


class Scheduler:
    """Launches due connections on a thread pool; one run per connection at a time.

    ``run(name, stop_event)`` performs one sync of connection ``name``; it
    should check ``stop_event`` at each checkpoint and return early when it is
    set. It may raise: the error is logged with the connection name and the
    scheduler carries on.
    """

    def __init__(
        self,
        hub: HubConfig,
        run: RunFunction,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_workers: int = 4,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._run = run
        self._clock = clock
        self._sleep = sleep if sleep is not None else self._interruptible_sleep
        self._stop_event = threading.Event()
        self._lock = threading.RLock()
        self._running: dict[str, Future[None]] = {}
        self._previous_handlers: dict[int, Any] = {}
        started = _as_utc(clock())
        self._entries: dict[str, _Entry] = {}
        problems = []
        for name, connection in sorted(hub.connections.items()):
            if not connection.enabled or connection.schedule is None:
                continue
            try:
                schedule = validate_schedule(connection.schedule)
            except PydanticCustomError as exc:
                location = ("connections", name, "schedule")
                problems.append(
                    Problem(
                        str(hub.path),
                        ".".join(location),
                        str(exc),
                        hub.line_of(location),
                        'write a 5-field cron expression, e.g. "*/15 * * * *"',
                    )
                )
                continue
            self._entries[name] = _Entry(name, schedule, started)
        if problems:
            raise ConfigError(problems)
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="hub-scheduled-sync"
        )

    # ------------------------------------------------------------------ queries

    @property
    def scheduled(self) -> list[str]:
        """The connections this scheduler runs (enabled and with a schedule)."""
        return list(self._entries)

    @property
    def stop_event(self) -> threading.Event:
        """The event every run receives; set once the scheduler is stopping."""
        return self._stop_event

    def running(self) -> list[str]:
        """The connections with a run in progress (or queued for a free worker)."""
        with self._lock:
            return [name for name in self._entries if self._is_running(name)]

    def next_runs(self) -> dict[str, datetime]:
        """When each scheduled connection fires next (UTC)."""
        with self._lock:
            return {name: entry.next_fire() for name, entry in self._entries.items()}

    def due(self, now: datetime) -> list[str]:
        """Connections whose cron fired since their last tick and that are not running."""
        now = _as_utc(now)
        with self._lock:
            return [
                name
                for name, entry in self._entries.items()
                if entry.next_fire() <= now and not self._is_running(name)
            ]

    def _is_running(self, name: str) -> bool:
        future = self._running.get(name)
        return future is not None and not future.done()

    # ------------------------------------------------------------------ actions

    def tick(self, now: datetime) -> list[str]:
        """Launch every due connection; return the names launched.

        A connection whose slot came while its previous run is still going is
        skipped for that slot (logged), so runs never overlap or pile up.
        """
        now = _as_utc(now)
        launched: list[str] = []
        with self._lock:
            for name, entry in self._entries.items():
                if self._stop_event.is_set():
                    break
                if entry.next_fire() > now:
                    continue
                entry.last = now  # every missed slot collapses into this one
                if self._is_running(name):
                    log.info("%s: skipped: previous run still going", name)
                    continue
                try:
                    future = self._executor.submit(self._run_one, name)
                except RuntimeError:  # the pool was shut down by stop() meanwhile
                    break
                self._running[name] = future
                launched.append(name)
                log.info("%s: scheduled run started", name)
        return launched

    def _run_one(self, name: str) -> None:
        if self._stop_event.is_set():  # queued for a worker when stop() came
            log.info("%s: not started: the scheduler is stopping", name)
            return
        started = time.monotonic()
        try:
            self._run(name, self._stop_event)
        except RunLockedError as exc:
            log.info("%s: skipped: another process is running it (%s)", name, exc.message)
        except Exception as exc:  # a failing connection must not stop the others
            log.error("%s: scheduled run failed: %s", name, exc, exc_info=exc)
        else:
            log.info("%s: scheduled run finished in %.1f s", name, time.monotonic() - started)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the runs in progress have finished; False if ``timeout`` passed first."""
        with self._lock:
            futures = [f for f in self._running.values() if not f.done()]
        _, pending = wait_for_futures(futures, timeout=timeout)
        return not pending

    def stop(self, wait: bool = True) -> None:
        """Launch nothing more and ask running syncs to stop at their next checkpoint.

        With ``wait`` it returns once they have finished. Runs still queued for
        a free worker are cancelled. Calling it twice is harmless.
        """
        first = not self._stop_event.is_set()
        self._stop_event.set()
        running = self.running()
        if first and running:
            log.info(
                "stopping: waiting for %d running sync(s) to reach a checkpoint: %s",
                len(running),
                ", ".join(running),
            )
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def _interruptible_sleep(self, seconds: float) -> None:
        self._stop_event.wait(seconds)

    def _seconds_until_next(self, now: datetime) -> float:
        upcoming = [(fire - now).total_seconds() for fire in self.next_runs().values()]
        wait = min(upcoming, default=MAX_SLEEP_SECONDS)
        return max(MIN_SLEEP_SECONDS, min(wait, MAX_SLEEP_SECONDS))

    def run_forever(self) -> None:
        """Tick, sleep until the next slot (at most 30 s), repeat until stopped.

        On the way out (stop(), a signal, or Ctrl-C without handlers) it waits
        for the running syncs, which see the stop event at their next checkpoint.
        """
        if not self._entries:
            log.warning(
                "no enabled connection has a schedule: nothing to run "
                '(add `schedule: "*/15 * * * *"` to a connection in the config file)'
            )
            self.stop(wait=True)
            return
        for name, fire in self.next_runs().items():
            log.info("%s: next run at %s", name, fire.isoformat())
        try:
            while not self._stop_event.is_set():
                now = _as_utc(self._clock())
                self.tick(now)
                if self._stop_event.is_set():
                    break
                self._sleep(self._seconds_until_next(now))
        finally:
            self.stop(wait=True)
            self.restore_signal_handlers()
            log.info("scheduler stopped")

    # ------------------------------------------------------------------ signals

    def install_signal_handlers(self) -> None:
        """Make SIGINT and SIGTERM stop the scheduler cleanly (main thread only).

        The handler only sets the stop event (it must not take locks the
        interrupted code may hold); :meth:`run_forever` notices at once, stops
        launching runs and waits for the running ones.
        """
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signal handlers can only be installed from the main thread")

        def handle(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self._stop_event.is_set():
                log.warning(
                    "received %s again: still waiting for running syncs to reach a checkpoint",
                    name,
                )
                return
            log.info("received %s: stopping after the running syncs' next checkpoint", name)
            self._stop_event.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(signum, handle)
            self._previous_handlers.setdefault(signum, previous)

    def restore_signal_handlers(self) -> None:
        """Put back the handlers that were there before :meth:`install_signal_handlers`."""
        if threading.current_thread() is not threading.main_thread():
            return
        while self._previous_handlers:
            signum, previous = self._previous_handlers.popitem()
            signal.signal(signum, previous)
