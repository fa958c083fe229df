"""The Awin streams on httpx.MockTransport: windows, parameters, state, limits and errors."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

import connectors.awin
from connectors.awin import AwinConnector, mapping_file
from connectors.awin.client import RATE_LIMIT_WAIT, awin_error_message
from connectors.awin.converters import CONVERTERS
from connectors.awin.settings import AwinSettings
from connectors.awin.streams import awin_date_to_utc, plan_windows
from hub import plugins
from hub.connector import Checkpoint, Record
from hub.errors import AuthError, FatalConnectorError, RetryBudgetExceededError
from hub.mapping import load_mappings
from tests.connectors.awin import samples
from tests.connectors.awin.samples import ADVERTISER_ID, PUBLISHER_ID, TOKEN, FakeAwin

NOW = datetime(2025, 4, 10, 12, 0, tzinfo=UTC)


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings(**overrides: Any) -> AwinSettings:
    raw = {
        "api_token": TOKEN,
        "account_type": "advertiser",
        "account_id": ADVERTISER_ID,
        "start_date": "2025-01-01",
        "base_url": samples.BASE_URL,
        **overrides,
    }
    return AwinSettings.model_validate(raw)


def connector(
    fake: FakeAwin, clock: FakeClock | None = None, now: datetime = NOW, **config: Any
) -> AwinConnector:
    clock = clock or FakeClock()
    return AwinConnector(
        settings(**config),
        transport=fake.transport(),
        sleep=clock.sleep,
        clock=clock,
        now=lambda: now,
    )


def read(fake: FakeAwin, streams: list[str], state: Any = None, **kwargs: Any) -> list[Any]:
    awin = connector(fake, **kwargs)
    try:
        return list(awin.read(streams, state or {}))
    finally:
        awin.close()


def ids(messages: list[Any]) -> list[int]:
    return [m.data["id"] for m in messages if isinstance(m, Record)]


def transaction_params(fake: FakeAwin) -> list[httpx.QueryParams]:
    return [r.url.params for r in fake.requests if r.url.path.endswith("/transactions/")]


# --------------------------------------------------------------------------- settings


def test_settings_refuse_unknown_zone_long_windows_and_keep_token_secret() -> None:
    with pytest.raises(ValidationError, match="time zones"):
        settings(timezone="Europe/Vienna")
    with pytest.raises(ValidationError):
        settings(window_days=32)
    with pytest.raises(ValidationError):
        settings(account_type="merchant")
    assert TOKEN not in repr(settings())
    assert settings(base_url="https://api.awin.com/").base_url == "https://api.awin.com"


# --------------------------------------------------------------------------- windows


def test_first_sync_reads_windows_from_start_date_with_documented_params() -> None:
    fake = FakeAwin()
    messages = read(fake, ["transactions"], timezone="Europe/Berlin")
    requests = [r for r in fake.requests if "/transactions" in r.url.path]
    assert {r.url.path for r in requests} == {f"/advertisers/{ADVERTISER_ID}/transactions/"}
    params = transaction_params(fake)
    assert params[0]["startDate"] == "2025-01-01T00:00:00"
    assert params[0]["endDate"] == "2025-01-31T00:00:00"
    assert params[-1]["endDate"] == "2025-04-10T14:00:00"  # now, in Berlin (CEST)
    for p in params:
        assert p["timezone"] == "Europe/Berlin"
        assert p["dateType"] == "transaction"
        assert p["showBasketProducts"] == "true"
        span = datetime.fromisoformat(p["endDate"]) - datetime.fromisoformat(p["startDate"])
        assert timedelta(0) < span <= timedelta(days=30)
    for earlier, later in itertools.pairwise(params):
        assert later["startDate"] == earlier["endDate"]  # no gap
    # the colons are percent-encoded, the token is never in the URL
    raw = str(requests[0].url)
    assert "startDate=2025-01-01T00%3A00%3A00" in raw and TOKEN not in raw
    assert requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert sorted(ids(messages)) == sorted(t["id"] for t in samples.TRANSACTIONS)
    # a checkpoint after every window, the last one at now
    checkpoints = [m for m in messages if isinstance(m, Checkpoint)]
    assert len(checkpoints) == len(params)
    assert checkpoints[-1].state == {"window_end": NOW.isoformat()}
    assert isinstance(messages[-1], Checkpoint)


def test_checkpoint_follows_each_window_and_records_precede_it() -> None:
    fake = FakeAwin()
    messages = read(fake, ["transactions"])
    ends = [m.state["window_end"] for m in messages if isinstance(m, Checkpoint)]
    assert ends == sorted(ends) and len(ends) == 4  # Jan 1 .. Apr 10 in 30-day windows
    declined = next(
        i for i, m in enumerate(messages) if isinstance(m, Record) and m.data["id"] == 3050000305
    )
    first_checkpoint_after = next(m for m in messages[declined:] if isinstance(m, Checkpoint))
    assert first_checkpoint_after.state["window_end"] > "2025-02-20T08:15:00+00:00"


def test_dates_are_converted_to_utc_from_the_requested_zone() -> None:
    fake = FakeAwin()
    messages = read(fake, ["transactions"], timezone="US/Pacific")
    record = next(m.data for m in messages if isinstance(m, Record) and m.data["id"] == 3050000117)
    assert record["transactionDate"] == "2025-03-10T17:09:00+00:00"
    assert record["validationDate"] == "2025-04-02T06:15:00+00:00"
    assert record["_hub"]["timezone"] == "US/Pacific"
    assert [g["code"] for g in record["_hub"]["commission_groups"]] == ["DEFAULT", "ACC"]


def test_windows_follow_the_wall_clock_across_daylight_saving() -> None:
    zone = ZoneInfo("Europe/Berlin")
    since = datetime(2025, 3, 1, tzinfo=zone)
    until = datetime(2025, 4, 15, tzinfo=zone)
    windows = plan_windows(since, until, zone, 31)
    assert windows[0] == (datetime(2025, 3, 1), datetime(2025, 4, 1))
    assert all(end - start <= timedelta(days=31) for start, end in windows)
    assert plan_windows(until, until, zone, 31) == [(datetime(2025, 4, 15), datetime(2025, 4, 15))]


def test_awin_date_to_utc_leaves_unreadable_values() -> None:
    zone = ZoneInfo("Europe/London")
    assert awin_date_to_utc("2025-07-01T10:00:00", zone) == "2025-07-01T09:00:00+00:00"
    assert awin_date_to_utc("2025-07-01T10:00:00+02:00", zone) == "2025-07-01T08:00:00+00:00"
    assert awin_date_to_utc("not a date", zone) == "not a date"
    assert awin_date_to_utc(None, zone) is None


def test_incremental_run_rereads_the_lookback_and_polls_status_changes() -> None:
    fake = FakeAwin()
    saved = datetime(2025, 4, 1, tzinfo=UTC)
    messages = read(
        fake,
        ["transactions"],
        state={"transactions": {"window_end": saved.isoformat()}},
        lookback_days=10,
    )
    params = transaction_params(fake)
    by_type: dict[str, list[httpx.QueryParams]] = {}
    for p in params:
        by_type.setdefault(p["dateType"], []).append(p)
    assert set(by_type) == {"validation", "amendment", "transaction"}
    # status polls start one day before the saved end; the lookback ten days before it
    assert by_type["validation"][0]["startDate"] == "2025-03-31T00:00:00"
    assert by_type["amendment"][0]["startDate"] == "2025-03-31T00:00:00"
    assert by_type["transaction"][0]["startDate"] == "2025-03-22T00:00:00"
    # polls first, so the saved end only moves after them
    types = [p["dateType"] for p in params]
    assert types.index("transaction") > max(
        i for i, t in enumerate(types) if t in ("validation", "amendment")
    )
    # the amended transaction (validated Apr 2, dated Mar 10: outside the lookback) is caught
    # by the validation poll; the pending one of Mar 28 by the lookback; each once
    assert sorted(ids(messages)) == [3050000117, 3050000201]
    states = [m.state["window_end"] for m in messages if isinstance(m, Checkpoint)]
    assert states[0] == saved.isoformat()  # never moves backwards
    assert states[-1] == NOW.isoformat()


def test_status_polls_can_be_switched_off() -> None:
    fake = FakeAwin()
    state = {"transactions": {"window_end": "2025-04-01T00:00:00+00:00"}}
    read(fake, ["transactions"], state=state, poll_status_changes=False)
    assert {p["dateType"] for p in transaction_params(fake)} == {"transaction"}


def test_unreadable_state_is_a_clear_error() -> None:
    with pytest.raises(FatalConnectorError, match="window_end") as info:
        read(FakeAwin(), ["transactions"], state={"transactions": {"window_end": "yesterday"}})
    assert "hub state reset" in (info.value.hint or "")


def test_publisher_side_paths() -> None:
    fake = FakeAwin()
    messages = read(
        fake,
        ["transactions", "partners", "commission_groups"],
        account_type="publisher",
        account_id=PUBLISHER_ID,
    )
    paths = [r.url.path for r in fake.requests]
    assert f"/publishers/{PUBLISHER_ID}/transactions/" in paths
    programmes = [r for r in fake.requests if r.url.path.endswith("/programmes")]
    assert programmes and all(r.url.params["relationship"] == "joined" for r in programmes)
    groups = [r for r in fake.requests if r.url.path.endswith("/commissiongroups")]
    assert [r.url.params["advertiserId"] for r in groups] == [str(ADVERTISER_ID)]
    by_stream: dict[str, list[Any]] = {}
    for m in messages:
        if isinstance(m, Record):
            by_stream.setdefault(m.stream, []).append(m.data)
    assert sorted(t["id"] for t in by_stream["transactions"]) == [3050000117, 3050000305]
    assert [p["id"] for p in by_stream["partners"]] == [ADVERTISER_ID]
    assert [g["groupId"] for g in by_stream["commission_groups"]] == [88101, 88104]


def test_advertiser_partners_and_no_commission_groups_stream() -> None:
    fake = FakeAwin()
    messages = read(fake, ["partners"])
    assert ids(messages) == [PUBLISHER_ID, 300555]
    assert [r.url.path for r in fake.requests] == [f"/advertisers/{ADVERTISER_ID}/publishers"]
    awin = connector(FakeAwin())
    assert [s.name for s in awin.discover()] == ["transactions", "partners"]
    with pytest.raises(FatalConnectorError, match="commission_groups"):
        list(awin.read(["commission_groups"], {}))


# --------------------------------------------------------------------------- check


def test_check_finds_the_account() -> None:
    fake = FakeAwin()
    connector(fake).check()
    assert fake.requests[0].url.params["type"] == "advertiser"


def test_check_names_an_unreachable_account_and_a_wrong_type() -> None:
    with pytest.raises(FatalConnectorError, match="cannot reach advertiser account 999"):
        connector(FakeAwin(), account_id=999).check()
    with pytest.raises(FatalConnectorError, match="is a publisher account") as info:
        connector(FakeAwin(), account_id=PUBLISHER_ID).check()
    assert info.value.hint == "set account_type: publisher"


# --------------------------------------------------------------------------- errors


def test_401_is_an_auth_error_with_awins_message_and_no_token() -> None:
    fake = FakeAwin(token="another-token-123456789")
    with pytest.raises(AuthError) as info:
        read(fake, ["transactions"])
    text = str(info.value) + (info.value.hint or "")
    assert "unauthorized: Full authentication is required" in text
    assert "api_token" in (info.value.hint or "")
    assert TOKEN not in text
    assert len(fake.requests) == 1  # not retried


def test_403_names_account_access_and_plan() -> None:
    with pytest.raises(AuthError) as info:
        read(FakeAwin(accounts=()), ["transactions"])
    assert "plan" in (info.value.hint or "") and "account_id" in (info.value.hint or "")


def test_404_names_account_type_and_id() -> None:
    fake = FakeAwin()
    awin = connector(fake)
    with pytest.raises(FatalConnectorError) as info:
        awin.client.get_json(f"/advertisers/{ADVERTISER_ID}/transactions")
    assert "account_id" in (info.value.hint or "")


def test_429_without_retry_after_waits_a_minute_and_retries(caplog: Any) -> None:
    throttled: list[int] = []

    def responder(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/publishers") and not throttled:
            throttled.append(1)
            return httpx.Response(429)
        return None

    clock = FakeClock()
    fake = FakeAwin(responder=responder)
    with caplog.at_level(logging.WARNING):
        messages = read(fake, ["partners"], clock=clock)
    assert ids(messages) == [PUBLISHER_ID, 300555]
    assert RATE_LIMIT_WAIT in clock.sleeps
    assert len(fake.requests) == 2


def test_429_forever_gives_up_within_the_budget() -> None:
    clock = FakeClock()
    fake = FakeAwin(responder=lambda request: httpx.Response(429))
    with pytest.raises(RetryBudgetExceededError):
        read(fake, ["partners"], clock=clock)
    waits = [s for s in clock.sleeps if s == RATE_LIMIT_WAIT]
    assert 1 <= len(waits) <= 5 and sum(waits) <= 300


def test_400_for_a_long_range_names_window_days() -> None:
    fake = FakeAwin(responder=lambda request: httpx.Response(400, json={"error": "bad"}))
    with pytest.raises(FatalConnectorError) as info:
        read(fake, ["transactions"])
    assert "window_days" in (info.value.hint or "")


def test_error_message_falls_back_for_other_bodies() -> None:
    request = httpx.Request("GET", "https://awin.test/x")
    plain = httpx.Response(500, text="boom", request=request)
    assert "boom" in awin_error_message(plain)


def test_a_non_array_answer_is_a_clear_error() -> None:
    fake = FakeAwin(responder=lambda r: httpx.Response(200, json={"oops": 1}))
    with pytest.raises(FatalConnectorError, match="JSON array"):
        read(fake, ["partners"])


# --------------------------------------------------------------------------- pacing


def test_limiter_keeps_20_calls_per_minute() -> None:
    clock = FakeClock()
    fake = FakeAwin()
    read(fake, ["transactions"], clock=clock)  # 4 windows, back to back
    assert len(fake.requests) == 4
    # burst 1: the first call is free, each further one waits 3 s
    assert clock.sleeps == pytest.approx([3.0, 3.0, 3.0])


def test_limiter_rate_is_configurable() -> None:
    clock = FakeClock()
    read(FakeAwin(), ["transactions"], clock=clock, requests_per_minute=10)
    assert clock.sleeps == pytest.approx([6.0, 6.0, 6.0])


# --------------------------------------------------------------------------- registration


@pytest.fixture
def awin_plugin() -> Iterator[None]:
    """The awin plugin registered (unless its entry point already did)."""
    manager = plugins.get_plugin_manager()
    added = not manager.is_registered(connectors.awin)
    if added:
        plugins.register_plugin(connectors.awin, name="awin-under-test")
    plugins.reset_registry()
    yield
    if added:
        plugins.unregister_plugin("awin-under-test")
    plugins.reset_registry()


def test_the_plugin_registers_connector_mapping_and_converters(awin_plugin: None) -> None:
    registry = plugins.get_registry()
    assert registry.connector("awin") is AwinConnector
    assert mapping_file() in registry.mapping_files
    assert set(CONVERTERS) <= set(registry.converters)
    assert load_mappings().streams("awin") == ["commission_groups", "partners", "transactions"]


def test_start_date_is_a_date() -> None:
    assert settings().start_date == date(2025, 1, 1)


def test_a_second_run_without_lookback_reads_no_old_transaction() -> None:
    first = read(FakeAwin(), ["transactions"], lookback_days=0)
    state = {"transactions": [m for m in first if isinstance(m, Checkpoint)][-1].state}
    later = NOW + timedelta(hours=1)
    again = read(FakeAwin(), ["transactions"], state=state, lookback_days=0, now=later)
    assert ids(again) == []
    assert [m for m in again if isinstance(m, Checkpoint)][-1].state == {
        "window_end": later.isoformat()
    }


def test_a_transaction_seen_twice_in_one_run_is_yielded_once() -> None:
    # validated inside the poll range and dated inside the lookback: asked for twice
    fresh_one = {**samples.fresh(samples.PENDING), "validationDate": "2025-04-09T10:00:00"}
    fake = FakeAwin(transactions=[fresh_one])
    state = {"transactions": {"window_end": "2025-04-09T12:00:00+00:00"}}
    messages = read(fake, ["transactions"], state=state, lookback_days=30)
    assert ids(messages) == [fresh_one["id"]]
