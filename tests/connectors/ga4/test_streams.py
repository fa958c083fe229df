"""The GA4 source on httpx.MockTransport: settings, windows, paging, parsing, merging, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from pydantic import ValidationError

from connectors.ga4 import GA4Connector, GA4Settings, mapping_file
from connectors.ga4.streams import parse_metric, plan_days, record_key
from hub.connector import Checkpoint, Record
from hub.errors import AuthError, FatalConnectorError, RetryBudgetExceededError
from hub.mapping import Mappings
from hub.schema import ENTITIES, make_id
from tests.connectors.ga4.fake import PROPERTY, TOKEN, FakeGA4, days, google_error

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # 13:00 in Vienna: today is 2025-03-10


def traffic_rows() -> list[dict[str, Any]]:
    rows = []
    for n, day in enumerate(days(date(2025, 3, 1), 10)):
        for source, medium, sessions, revenue in (
            ("google", "organic", 80 + n, 241.3),
            ("awin", "affiliate", 9, 97.5 + n * 0.1),
            ("(direct)", "(none)", 30, 0),
            ("(not set)", "(not set)", 1, 0),
        ):
            rows.append(
                {
                    "date": day,
                    "sessionSource": source,
                    "sessionMedium": medium,
                    "sessionCampaignName": "(organic)" if medium == "organic" else "(not set)",
                    "sessionManualAdContent": "(not set)",
                    "deviceCategory": "mobile" if n % 2 else "desktop",
                    "countryId": "AT" if n % 3 else "DE",
                    "sessions": sessions,
                    "ecommercePurchases": 1 if revenue else 0,
                    "purchaseRevenue": revenue,
                }
            )
    return rows


def settings(**overrides: Any) -> GA4Settings:
    return GA4Settings.model_validate(
        {
            "property_id": PROPERTY,
            "access_token": TOKEN,
            "start_date": "2025-03-01",
            "timezone": "Europe/Vienna",
            "base_url": "https://analyticsdata.googleapis.com",
            **overrides,
        }
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(fake: FakeGA4, sleeps: Sleeps | None = None, **overrides: Any) -> GA4Connector:
    return GA4Connector(
        settings(**overrides),
        transport=fake.transport(),
        sleep=sleeps if sleeps is not None else Sleeps(),
        now=lambda: NOW,
    )


def records(messages: Iterator[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, Record):
            out.append(message.data)
        else:
            assert isinstance(message, Checkpoint)
            states.append(message.state)
    return out, states


# -- settings --------------------------------------------------------------------------------


def test_settings_need_exactly_one_credential_and_a_property_number(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        settings(access_token=None)
    key = tmp_path / "key.json"
    key.write_text(orjson.dumps(service_account_key("x")).decode())
    with pytest.raises(ValidationError, match="exactly one of"):
        settings(service_account_file=str(key))
    assert settings(access_token=None, service_account_file=str(key)).service_account_info()
    with pytest.raises(ValidationError, match="is a directory"):
        settings(access_token=None, service_account_file=str(tmp_path))
    with pytest.raises(ValidationError, match="measurement id"):
        settings(property_id="G-ABC123")
    assert settings(property_id=f"properties/{PROPERTY}").property_id == PROPERTY
    with pytest.raises(ValidationError, match="not JSON"):
        settings(access_token=None, service_account_key="{not json")
    with pytest.raises(ValidationError, match="needs the `date` dimension"):
        settings(reports=[{"name": "x", "dimensions": ["country"], "metrics": ["sessions"]}])
    with pytest.raises(ValidationError, match="key must list some of its dimensions"):
        settings(
            reports=[{"name": "x", "dimensions": ["date"], "metrics": ["sessions"], "key": ["a"]}]
        )
    with pytest.raises(ValidationError, match="IANA"):
        settings(timezone="Vienna")


# -- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("88", "TYPE_INTEGER", 88),
        ("0", "TYPE_INTEGER", 0),
        ("241.3", "TYPE_CURRENCY", "241.30"),
        ("96", "TYPE_CURRENCY", "96.00"),
        ("1024.7000000000001", "TYPE_CURRENCY", "1024.70"),
        ("313.70000000000005", "TYPE_CURRENCY", "313.70"),
        ("0.30000000000000004", "TYPE_FLOAT", "0.3"),
        ("12.5", "TYPE_SECONDS", "12.5"),
        ("", "TYPE_INTEGER", 0),
    ],
)
def test_metrics_are_parsed_by_type_without_float_noise(
    value: str, kind: str, expected: int | str
) -> None:
    assert parse_metric(value, kind, "m") == expected


def test_a_non_number_or_a_fractional_integer_is_an_error() -> None:
    with pytest.raises(FatalConnectorError, match="not a number"):
        parse_metric("abc", "TYPE_CURRENCY", "purchaseRevenue")
    with pytest.raises(FatalConnectorError, match="integer"):
        parse_metric("1.5", "TYPE_INTEGER", "sessions")


def test_windows_cover_every_day_once() -> None:
    windows = list(plan_days(date(2025, 1, 30), date(2025, 2, 16), 7))
    assert windows == [
        (date(2025, 1, 30), date(2025, 2, 5)),
        (date(2025, 2, 6), date(2025, 2, 12)),
        (date(2025, 2, 13), date(2025, 2, 16)),
    ]
    assert list(plan_days(date(2025, 2, 17), date(2025, 2, 16), 7)) == []


def test_special_values_bring_the_day_into_the_key() -> None:
    row = {"date": "2025-03-01", "transactionId": "(not set)"}
    assert record_key(row, ["transactionId"]) == "2025-03-01|(not set)"
    assert record_key({**row, "transactionId": "2042"}, ["transactionId"]) == "2042"


# -- reading ---------------------------------------------------------------------------------


def test_traffic_is_read_in_windows_and_paged_until_row_count() -> None:
    fake = FakeGA4(traffic_rows())
    fake.max_page_rows = 7  # GA4 may answer fewer rows than asked
    out, states = records(connector(fake, window_days=4, page_size=10).read(["traffic"], {}))

    assert states == [
        {"last_date": "2025-03-04"},
        {"last_date": "2025-03-08"},
        {"last_date": "2025-03-10"},
    ]
    assert len(out) == len(traffic_rows())
    assert len({r["_hub"]["key"] for r in out}) == len(out)
    assert sum(r["sessions"] for r in out) == sum(r["sessions"] for r in traffic_rows())
    revenue = sum(Decimal(r["purchaseRevenue"]) for r in out)
    assert revenue == sum(Decimal(str(r["purchaseRevenue"])) for r in traffic_rows())
    # offsets advance by the rows received; every page of a window has the same stable order
    pages = [(b["dateRanges"][0]["startDate"], int(b["offset"])) for b in fake.bodies]
    assert pages[:3] == [("2025-03-01", 0), ("2025-03-01", 7), ("2025-03-01", 14)]
    first = fake.bodies[0]
    assert first["limit"] == "10" and first["returnPropertyQuota"] is True
    assert [o["dimension"]["dimensionName"] for o in first["orderBys"]] == [
        d["name"] for d in first["dimensions"]
    ]
    sample = next(r for r in out if r["sessionSource"] == "(not set)")
    assert sample["sessionMedium"] == "(not set)" and sample["date"] == "2025-03-01"
    assert sample["_hub"]["day_start"] == "2025-02-28T23:00:00+00:00"  # midnight in Vienna
    assert sample["_hub"]["currency"] == "EUR"


def test_an_incremental_sync_starts_lookback_days_before_the_saved_day() -> None:
    fake = FakeGA4(traffic_rows())
    out, states = records(
        connector(fake, lookback_days=3).read(["traffic"], {"traffic": {"last_date": "2025-03-08"}})
    )
    assert fake.bodies[0]["dateRanges"] == [{"startDate": "2025-03-05", "endDate": "2025-03-10"}]
    assert {r["date"] for r in out} == {f"2025-03-{d:02d}" for d in range(5, 11)}
    assert states == [{"last_date": "2025-03-10"}]


def test_an_empty_report_ends_the_window() -> None:
    fake = FakeGA4([])
    out, states = records(connector(fake).read(["traffic"], {}))
    assert out == [] and states == [{"last_date": "2025-03-07"}, {"last_date": "2025-03-10"}]
    assert len(fake.bodies) == 2


def purchase(day: str, tid: str, source: str, revenue: float, n: int = 1) -> dict[str, Any]:
    return {
        "date": day,
        "transactionId": tid,
        "sessionSource": source,
        "sessionMedium": "affiliate" if source == "awin" else "organic",
        "sessionCampaignName": "(not set)",
        "deviceCategory": "desktop",
        "countryId": "AT",
        "ecommercePurchases": n,
        "purchaseRevenue": revenue,
    }


def test_purchases_merge_by_transaction_id_and_keep_unset_ones_per_day() -> None:
    rows = [
        purchase("2025-03-02", "2042", "awin", 101.61),
        purchase("2025-03-02", "2042", "google", 10.0),  # a second purchase event, same id
        purchase("2025-03-02", "2043", "google", 55.5),
        purchase("2025-03-02", "(not set)", "google", 20.0),
        purchase("2025-03-02", "(not set)", "awin", 30.0),
        purchase("2025-03-03", "(not set)", "awin", 5.0),
    ]
    out, _ = records(connector(FakeGA4(rows)).read(["purchases"], {}))
    by_key = {r["_hub"]["key"]: r for r in out}
    assert set(by_key) == {"2042", "2043", "2025-03-02|(not set)", "2025-03-03|(not set)"}
    merged = by_key["2042"]
    assert merged["purchaseRevenue"] == "111.61" and merged["ecommercePurchases"] == 2
    assert merged["sessionSource"] == "awin"  # the bigger row's channel
    assert by_key["2025-03-02|(not set)"]["purchaseRevenue"] == "50.00"
    total = sum(Decimal(r["purchaseRevenue"]) for r in out)
    assert total == Decimal("222.11")


def test_the_mapping_makes_clicks_conversions_and_items() -> None:
    mappings = Mappings([mapping_file()], {})
    purchases = [
        purchase("2025-03-02", "2042", "awin", 101.61),
        purchase("2025-03-02", "(not set)", "google", 20.0),
    ]
    items = [
        {
            "date": "2025-03-02",
            "transactionId": "2042",
            "itemId": "ALP-RUCK-28",
            "itemName": "Tagesrucksack",
            "itemCategory": "Rucksäcke",
            "itemRevenue": 101.61,
            "itemsPurchased": 1,
        },
        {
            "date": "2025-03-02",
            "transactionId": "(not set)",
            "itemId": "(not set)",
            "itemName": "Gutschein",
            "itemCategory": "(not set)",
            "itemRevenue": 20.0,
            "itemsPurchased": 2,
        },
    ]
    fake = FakeGA4([*purchases, *items, *traffic_rows()[:4]])
    con = connector(fake)
    out, _ = records(con.read(["traffic", "purchases", "items"], {}))
    rows: dict[str, list[dict[str, Any]]] = {}
    for record in out:
        stream = record["_hub"]["report"]
        for entity, row in mappings.compile("ga4", stream)(record, tenant="t", connection="ga4"):
            model = ENTITIES[entity][0].model_validate({**row, "synced_at": NOW})
            rows.setdefault(entity, []).append(model.model_dump())
    click = next(c for c in rows["click"] if c["channel_source"] == "awin")
    assert click["count"] == 9 and click["day"] == date(2025, 3, 1)
    assert click["channel_medium"] == "affiliate" and click["country"] == "DE"
    unset = next(c for c in rows["click"] if c["channel_source"] == "(not set)")
    assert unset["channel_medium"] == "(not set)" and unset["channel_campaign"] == "(not set)"
    conversions = {c["external_id"]: c for c in rows["conversion"]}
    sale = conversions["2042"]
    assert sale["order_ref"] == "2042" and sale["amount"] == Decimal("101.61")
    assert sale["currency"] == "EUR" and sale["channel_source"] == "awin"
    assert sale["occurred_at"] == datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
    unset_sale = conversions["2025-03-02|(not set)"]
    assert unset_sale["order_ref"] is None and unset_sale["extra"]["transactionId"] == "(not set)"
    item_rows = {i["title"]: i for i in rows["conversion_item"]}
    assert item_rows["Tagesrucksack"]["conversion_id"] == make_id("t", "ga4", "conversion", "2042")
    assert item_rows["Tagesrucksack"]["amount"] == Decimal("101.61")
    voucher = item_rows["Gutschein"]
    assert voucher["sku"] is None and voucher["quantity"] == 2
    assert voucher["conversion_id"] == make_id("t", "ga4", "conversion", "2025-03-02|(not set)")


# -- errors and quotas -----------------------------------------------------------------------


def test_a_429_between_pages_is_retried_after_its_wait() -> None:
    fake = FakeGA4(traffic_rows())
    fake.max_page_rows = 20
    sleeps = Sleeps()
    con = connector(fake, sleeps, window_days=10)
    original = fake.answer
    calls = 0

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            fake.fail_next.append(
                google_error(429, "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota.")
            )
        return original(body)

    fake.answer = answer  # type: ignore[method-assign]
    out, _ = records(con.read(["traffic"], {}))
    assert len(out) == len(traffic_rows())
    assert 30.0 in sleeps
    offsets = [int(orjson.loads(r.content)["offset"]) for r in fake.requests]
    assert offsets == [0, 20, 20]  # the page refused with 429 is asked again, not skipped


def test_the_daily_quota_stops_with_a_hint_and_the_hourly_one_waits() -> None:
    fake = FakeGA4(traffic_rows())
    fake.fail_next.append(
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Exhausted property tokens per day. These quota tokens will return in under 24 hours.",
        )
    )
    with pytest.raises(FatalConnectorError) as caught:
        records(connector(fake).read(["traffic"], {}))
    assert caught.value.hint and "midnight US Pacific" in caught.value.hint

    fake = FakeGA4(traffic_rows())
    fake.fail_next.append(
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Exhausted property tokens per hour. These quota tokens will return in under an hour.",
        )
    )
    sleeps = Sleeps()
    out, _ = records(connector(fake, sleeps).read(["traffic"], {}))
    assert 900.0 in sleeps and len(out) == len(traffic_rows())

    fake = FakeGA4(traffic_rows())
    fake.fail_next.extend(
        google_error(403, "PERMISSION_DENIED", "Exhausted property tokens per hour.")
        for _ in range(3)
    )
    with pytest.raises(RetryBudgetExceededError):
        records(connector(fake).read(["traffic"], {}))


def test_bad_reports_and_missing_access_fail_with_what_to_change() -> None:
    fake = FakeGA4([])
    fake.fail_next.append(
        google_error(400, "INVALID_ARGUMENT", "Field sesions is not a valid metric.")
    )
    with pytest.raises(FatalConnectorError) as caught:
        records(connector(fake).read(["traffic"], {}))
    assert "Field sesions is not a valid metric" in str(caught.value)
    assert caught.value.hint and "metadata" in caught.value.hint

    with pytest.raises(AuthError) as denied:
        records(connector(FakeGA4([]), property_id=1).read(["traffic"], {}))
    assert "sufficient permissions" in str(denied.value)
    assert denied.value.hint and "Viewer" in denied.value.hint

    with pytest.raises(AuthError) as expired:
        records(connector(FakeGA4([]), access_token="ya29.expired-1234567").read(["traffic"], {}))
    assert "ya29.expired-1234567" not in str(expired.value) + str(expired.value.hint)


def test_the_quota_guard_pauses_when_the_hourly_tokens_run_low() -> None:
    """``consumed`` is one request's cost: the reserve is a share of the quota's size."""
    fake = FakeGA4(traffic_rows())
    sleeps = Sleeps()
    records(connector(fake, sleeps, window_days=1).read(["traffic"], {}))
    assert len(fake.bodies) == 10 and sleeps.count(60.0) == 0
    # 4,025 of 40,000 left before; 5 a call: below the 10 % reserve after the 6th call
    fake.consumed = 35_975
    sleeps = Sleeps()
    records(connector(fake, sleeps, window_days=1).read(["traffic"], {}))
    assert sleeps.count(60.0) == 4  # before calls 7 to 10
    # an Analytics 360 property shows more than a standard quota: its size is learnt
    fake.tokens_per_hour, fake.consumed = 400_000, 300_000
    sleeps = Sleeps()
    records(connector(fake, sleeps, window_days=1).read(["traffic"], {}))
    assert sleeps.count(60.0) == 0
    fake.consumed = 370_000  # 30,000 left: below 10 % of 400,000 only if the size is known
    sleeps = Sleeps()
    records(connector(fake, sleeps, window_days=1, analytics_360=True).read(["traffic"], {}))
    assert sleeps.count(60.0) == 9


# -- the service-account flow ----------------------------------------------------------------


def service_account_key(token_url: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "hub-tests",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "hub-reader@hub-tests.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def test_a_service_account_key_gets_a_token_and_a_new_one_after_a_401() -> None:
    fake = FakeGA4(traffic_rows()[:4])
    issued: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            assert request.url == "https://oauth2.example/token"  # the token_url override
            claims = jwt.decode(form["assertion"], verify=False)
            issued.append(claims)
            token = f"ya29.issued-{len(issued)}"
            fake.token = token if len(issued) > 1 else "ya29.other"  # the first one is refused
            return httpx.Response(
                200, json={"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
            )
        return fake(request)

    info = service_account_key("http://127.0.0.1:9/token")
    con = GA4Connector(
        settings(
            access_token=None,
            service_account_key=orjson.dumps(info).decode(),
            token_url="https://oauth2.example/token",
        ),
        transport=httpx.MockTransport(handler),
        sleep=Sleeps(),
        now=lambda: NOW,
    )
    out, _ = records(con.read(["traffic"], {}))
    con.close()
    assert len(out) == 4 and len(issued) == 2
    claims = issued[0]
    assert claims["iss"] == info["client_email"]
    assert claims["aud"] == "https://oauth2.googleapis.com/token"  # google-auth's audience
    assert claims["scope"] == "https://www.googleapis.com/auth/analytics.readonly"


def test_a_refused_key_is_an_auth_error_without_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        )

    info = service_account_key("x")
    con = GA4Connector(
        settings(access_token=None, service_account_key=orjson.dumps(info).decode()),
        transport=httpx.MockTransport(handler),
        now=lambda: NOW,
    )
    with pytest.raises(AuthError) as caught:
        con.check()
    text = str(caught.value) + str(caught.value.hint)
    assert "invalid_grant" in text and info["client_email"] in text
    assert "PRIVATE KEY" not in text
