"""The cron scheduler, driven by a fake clock: due slots, no overlap, clean stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.config import ConnectionConfig, HubConfig, TenantConfig
from hub.errors import ConfigError, RunLockedError
from hub.scheduler import MAX_SLEEP_SECONDS, Scheduler

SAFETY = 5.0  # seconds: only reached when the code under test is broken


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 10, 1, hour, minute, second, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_hub(**schedules: str | None) -> HubConfig:
    return HubConfig(
        tenants={"acme": TenantConfig()},
        connections={
            name: ConnectionConfig(connector="fake", tenant="acme", schedule=schedule)
            for name, schedule in schedules.items()
        },
    )


class Recorder:
    """A run function that records calls; optionally blocks until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active: dict[str, int] = {}
        self.active_by_name: dict[str, int] = {}
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, name: str, stop: threading.Event) -> None:
        with self.lock:
            self.calls.append(name)
            count = self.active_by_name.get(name, 0) + 1
            self.active_by_name[name] = count
            self.max_active[name] = max(self.max_active.get(name, 0), count)
        self.started.set()
        try:
            assert self.release.wait(SAFETY)
        finally:
            with self.lock:
                self.active_by_name[name] -= 1


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def scheduler_factory() -> Iterator[list[Scheduler]]:
    made: list[Scheduler] = []
    yield made
    for scheduler in made:
        scheduler.stop(wait=True)


def new_scheduler(
    made: list[Scheduler], hub: HubConfig, run: object, clock: FakeClock, **kwargs: object
) -> Scheduler:
    scheduler = Scheduler(hub, run, clock=clock, **kwargs)  # type: ignore[arg-type]
    made.append(scheduler)
    return scheduler


def test_only_enabled_connections_with_a_schedule(
    scheduler_factory: list[Scheduler], recorder: Recorder
) -> None:
    hub = make_hub(every15="*/15 * * * *", manual=None)
    hub.connections["off"] = ConnectionConfig(
        connector="fake", tenant="acme", schedule="* * * * *", enabled=False
    )
    scheduler = new_scheduler(scheduler_factory, hub, recorder, FakeClock(at(10, 7)))
    assert scheduler.scheduled == ["every15"]
    assert scheduler.due(at(23, 59)) == ["every15"]


def test_first_tick_does_not_replay_history(
    scheduler_factory: list[Scheduler], recorder: Recorder
) -> None:
    hub = make_hub(every15="*/15 * * * *", hourly="0 * * * *")
    scheduler = new_scheduler(scheduler_factory, hub, recorder, FakeClock(at(10, 7)))

    assert scheduler.next_runs() == {"every15": at(10, 15), "hourly": at(11, 0)}
    assert scheduler.due(at(10, 7)) == []
    assert scheduler.tick(at(10, 14, 59)) == []
    assert scheduler.due(at(10, 15)) == ["every15"]
    assert scheduler.tick(at(10, 15)) == ["every15"]
    assert scheduler.join(SAFETY)
    assert scheduler.due(at(10, 15)) == []
    assert scheduler.tick(at(10, 29, 59)) == []
    assert scheduler.tick(at(11, 0, 2)) == ["every15", "hourly"]
    assert scheduler.join(SAFETY)
    assert recorder.calls.count("every15") == 2
    assert recorder.calls.count("hourly") == 1


def test_schedules_are_evaluated_in_utc(
    scheduler_factory: list[Scheduler], recorder: Recorder
) -> None:
    berlin = timezone(timedelta(hours=2))
    scheduler = new_scheduler(
        scheduler_factory, make_hub(daily="0 3 * * *"), recorder, FakeClock(at(0, 0))
    )
    # 04:59 in UTC+2 is 02:59 UTC: not yet; 05:00 in UTC+2 is 03:00 UTC: due
    assert scheduler.due(datetime(2024, 10, 1, 4, 59, tzinfo=berlin)) == []
    assert scheduler.due(datetime(2024, 10, 1, 5, 0, tzinfo=berlin)) == ["daily"]
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduler.due(datetime(2024, 10, 1, 5, 0))  # naive: refused


def test_missed_slots_run_once(scheduler_factory: list[Scheduler], recorder: Recorder) -> None:
    scheduler = new_scheduler(
        scheduler_factory, make_hub(every15="*/15 * * * *"), recorder, FakeClock(at(10, 7))
    )
    # the process slept through 11 slots
    assert scheduler.tick(at(13, 2)) == ["every15"]
    assert scheduler.join(SAFETY)
    assert recorder.calls == ["every15"]
    assert scheduler.due(at(13, 14)) == []
    assert scheduler.next_runs() == {"every15": at(13, 15)}


def test_no_overlapping_runs(
    scheduler_factory: list[Scheduler], recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.scheduler")
    recorder.release.clear()
    scheduler = new_scheduler(
        scheduler_factory, make_hub(every15="*/15 * * * *"), recorder, FakeClock(at(10, 7))
    )

    assert scheduler.tick(at(10, 15)) == ["every15"]
    assert recorder.started.wait(SAFETY)
    assert scheduler.running() == ["every15"]
    assert scheduler.due(at(10, 30)) == []  # fired, but still running
    assert scheduler.tick(at(10, 30)) == []
    assert "every15: skipped: previous run still going" in caplog.messages

    recorder.release.set()
    assert scheduler.join(SAFETY)
    assert scheduler.running() == []
    assert scheduler.tick(at(10, 30, 30)) == []  # the skipped slot is not made up later
    assert scheduler.tick(at(10, 45)) == ["every15"]
    assert scheduler.join(SAFETY)
    assert recorder.calls == ["every15", "every15"]
    assert recorder.max_active == {"every15": 1}


def test_a_failing_run_is_logged_and_scheduling_goes_on(
    scheduler_factory: list[Scheduler], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.scheduler")
    calls: list[str] = []

    def run(name: str, stop: threading.Event) -> None:
        calls.append(name)
        if name == "broken":
            raise RuntimeError("the shop said no")
        if name == "locked":
            raise RunLockedError("connection 'locked' is already running")

    hub = make_hub(broken="*/15 * * * *", fine="*/15 * * * *", locked="*/15 * * * *")
    scheduler = new_scheduler(scheduler_factory, hub, run, FakeClock(at(10, 7)))

    assert scheduler.tick(at(10, 15)) == ["broken", "fine", "locked"]
    assert scheduler.join(SAFETY)
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failures] == ["broken: scheduled run failed: the shop said no"]
    assert failures[0].exc_info is not None
    assert any("locked: skipped: another process" in m for m in caplog.messages)
    assert scheduler.tick(at(10, 30)) == ["broken", "fine", "locked"]
    assert scheduler.join(SAFETY)
    assert sorted(calls) == ["broken", "broken", "fine", "fine", "locked", "locked"]


def test_stop_sets_the_event_and_waits_for_running_syncs(
    scheduler_factory: list[Scheduler],
) -> None:
    started = threading.Event()
    finished: list[tuple[str, bool]] = []

    def run(name: str, stop: threading.Event) -> None:
        started.set()
        saw_stop = stop.wait(SAFETY)  # a sync checking at its checkpoint
        finished.append((name, saw_stop))

    scheduler = new_scheduler(
        scheduler_factory, make_hub(every15="*/15 * * * *"), run, FakeClock(at(10, 7))
    )
    assert scheduler.tick(at(10, 15)) == ["every15"]
    assert started.wait(SAFETY)

    scheduler.stop(wait=True)

    assert finished == [("every15", True)]  # it saw the event, and stop() waited for it
    assert scheduler.stop_event.is_set()
    assert scheduler.tick(at(10, 30)) == []  # nothing new launches once stopped
    scheduler.stop()  # twice is harmless


def test_stop_cancels_runs_waiting_for_a_worker(
    scheduler_factory: list[Scheduler], recorder: Recorder
) -> None:
    recorder.release.clear()
    hub = make_hub(first="*/15 * * * *", second="*/15 * * * *")
    scheduler = new_scheduler(scheduler_factory, hub, recorder, FakeClock(at(10, 7)), max_workers=1)
    assert scheduler.tick(at(10, 15)) == ["first", "second"]
    assert recorder.started.wait(SAFETY)
    assert scheduler.running() == ["first", "second"]  # second is queued behind first

    stopper = threading.Thread(target=scheduler.stop)
    stopper.start()
    assert scheduler.stop_event.wait(SAFETY)
    recorder.release.set()
    stopper.join(SAFETY)
    assert not stopper.is_alive()
    assert recorder.calls == ["first"]


def test_an_invalid_schedule_built_in_code_is_a_config_error(recorder: Recorder) -> None:
    hub = make_hub()
    hub.connections["bad"] = ConnectionConfig.model_construct(
        connector="fake", tenant="acme", schedule="every hour", enabled=True
    )
    with pytest.raises(ConfigError) as caught:
        Scheduler(hub, recorder, clock=FakeClock(at(10, 7)))
    (problem,) = caught.value.problems
    assert problem.location == "connections.bad.schedule"


class RecordingScheduler(Scheduler):
    ticks: list[tuple[datetime, list[str]]]

    def tick(self, now: datetime) -> list[str]:
        launched = super().tick(now)
        self.ticks.append((now, launched))
        return launched


def test_run_forever_sleeps_until_the_next_slot(recorder: Recorder) -> None:
    clock = FakeClock(at(10, 7))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert scheduler.join(SAFETY)
        clock.now += timedelta(seconds=seconds)
        if clock.now >= at(10, 45):
            scheduler.stop(wait=False)

    scheduler = RecordingScheduler(
        make_hub(every15="*/15 * * * *"), recorder, clock=clock, sleep=sleep
    )
    scheduler.ticks = []
    scheduler.run_forever()

    assert max(sleeps) == MAX_SLEEP_SECONDS
    assert sum(sleeps) == (at(10, 45) - at(10, 7)).total_seconds()
    assert scheduler.ticks[0] == (at(10, 7), [])
    launches = [now for now, launched in scheduler.ticks if launched]
    assert launches == [at(10, 15), at(10, 30)]  # it woke exactly on the slots
    assert recorder.calls == ["every15", "every15"]
    assert scheduler.stop_event.is_set()


def test_run_forever_with_nothing_scheduled_returns(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Scheduler(make_hub(manual=None), recorder, clock=FakeClock(at(10, 7)))
    scheduler.run_forever()
    assert any("nothing to run" in m for m in caplog.messages)
    assert recorder.calls == []


def test_sigterm_stops_the_loop_and_waits_for_runs() -> None:
    clock = FakeClock(at(10, 7))
    finished: list[bool] = []
    started = threading.Event()

    def run(name: str, stop: threading.Event) -> None:
        started.set()
        finished.append(stop.wait(SAFETY))

    def sleep(seconds: float) -> None:
        assert started.wait(SAFETY)
        signal.raise_signal(signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    scheduler = Scheduler(make_hub(every15="*/15 * * * *"), run, clock=clock, sleep=sleep)
    clock.now = at(10, 15)
    scheduler.install_signal_handlers()
    try:
        scheduler.run_forever()
    finally:
        scheduler.restore_signal_handlers()

    assert finished == [True]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_signal_handlers_only_in_the_main_thread(recorder: Recorder) -> None:
    scheduler = Scheduler(make_hub(every15="*/15 * * * *"), recorder, clock=FakeClock(at(10, 7)))
    errors: list[BaseException] = []

    def install() -> None:
        try:
            scheduler.install_signal_handlers()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join(SAFETY)
    scheduler.stop()
    assert len(errors) == 1
    assert "main thread" in str(errors[0])
