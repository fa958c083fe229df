"""The GA4 connector replaying hand-written cassettes (tests/cassettes/ga4/*.yaml).

Each cassette follows ``../shared/reference/apis.md`` §3 (its first comment says
which parts and which connection it assumes). The connector runs with its real
httpx transport, which vcrpy intercepts; replay only, so a request the cassette
does not hold fails the test. Every ``runReport`` is a POST to the same URL, so
the cassettes are matched on the JSON body as well (:data:`MATCH_ON_BODY`): the
date range, the stable ``orderBys``, ``offset``/``limit`` of each page and the
repeat of a page refused with 429 are pinned by the files, and the tests check
the sent bodies once more by hand. The records then go through
``mappings/ga4.yaml`` and the canonical models, so each trap of apis.md §3.9 is
checked where it matters: in the rows.

The expected values are worked out by hand from the cassettes' JSON and the
reference (Vienna is UTC+1 until 2025-03-30 02:00, UTC+2 after, so the midnight
that starts 2025-03-30 is still 23:00 UTC the day before, and 2025-03-31 starts at
22:00 UTC), or summed from the cassette text itself; none is copied from the
code's output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from connectors.ga4 import GA4Connector, GA4Settings, mapping_file
from hub.connector import Checkpoint, Message, Record
from hub.errors import AuthError, FatalConnectorError
from hub.mapping import Mappings
from hub.schema import ENTITIES, make_id
from tests.connectors.cassette import (
    CASSETTES,
    MATCH_ON,
    Replay,
    cassette_files,
    scan_for_secrets,
    use_cassette,
)

#: A fake, token-shaped access token (``ya29.``): the secret scan would spot it in a file.
TOKEN = "ya29.cassette-fake-ga4-token-7f3c1e"
PROPERTY = 409876543
API = "https://analyticsdata.googleapis.com/v1beta"
RUN_REPORT = f"{API}/properties/{PROPERTY}:runReport"
TENANT = "alpenglueck"
CONNECTION = "ga4"
#: The "now" of every first sync: 12:00 in Vienna on 2025-04-02, so one 7-day window
#: 2025-03-27..2025-04-02 from start_date.
NOW = datetime(2025, 4, 2, 10, 0, tzinfo=UTC)
MAPPINGS = Mappings([mapping_file()], {})
GA4_DIR = CASSETTES / "ga4"
#: runReport is always ``POST .../properties/<id>:runReport``: only the body tells pages apart.
MATCH_ON_BODY = (*MATCH_ON, "body")
TRAFFIC_DIMENSIONS = [
    "date",
    "sessionSource",
    "sessionMedium",
    "sessionCampaignName",
    "sessionManualAdContent",
    "deviceCategory",
    "countryId",
]

Row = dict[str, Any]


# --------------------------------------------------------------------------- helpers


class Sleeps(list[float]):
    """Records the waits the client asks for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings(**overrides: Any) -> GA4Settings:
    """The connection the cassettes were written for; cassettes name their overrides."""
    raw = {
        "property_id": PROPERTY,
        "access_token": TOKEN,
        "start_date": "2025-03-27",
        "timezone": "Europe/Vienna",
        **overrides,
    }
    return GA4Settings.model_validate(raw)


def read(
    cassette: str,
    streams: Sequence[str] = ("traffic",),
    state: dict[str, dict[str, Any]] | None = None,
    now: datetime = NOW,
    **overrides: Any,
) -> tuple[list[Message], Replay, Sleeps]:
    """Every message of ``streams`` read through ``cassette`` (real httpx transport)."""
    sleeps = Sleeps()
    with use_cassette(f"ga4/{cassette}", match_on=MATCH_ON_BODY) as replay:
        connector = GA4Connector(settings(**overrides), sleep=sleeps, now=lambda: now)
        try:
            messages = list(connector.read(list(streams), state or {}))
        finally:
            connector.close()
    return messages, replay, sleeps


def records(messages: Sequence[Message], stream: str) -> list[dict[str, Any]]:
    return [m.data for m in messages if isinstance(m, Record) and m.stream == stream]


def checkpoints(messages: Sequence[Message]) -> list[tuple[str, dict[str, Any]]]:
    return [(m.stream, m.state) for m in messages if isinstance(m, Checkpoint)]


def normalize(messages: Sequence[Message], stream: str) -> dict[str, list[Row]]:
    """The records of ``stream`` mapped by mappings/ga4.yaml and validated as the runner does."""
    mapping = MAPPINGS.compile("ga4", stream)
    rows: dict[str, list[Row]] = {}
    for record in records(messages, stream):
        for entity, row in mapping(record, tenant=TENANT, connection=CONNECTION):
            model = ENTITIES[entity][0].model_validate({**row, "synced_at": NOW})
            rows.setdefault(entity, []).append(model.model_dump())
    return rows


def bodies(replay: Replay) -> list[dict[str, Any]]:
    """The JSON bodies the code sent, in order."""
    return [json.loads(request.body) for request in replay.sent]


def interactions(name: str) -> list[dict[str, Any]]:
    document = yaml.safe_load((GA4_DIR / name).read_text(encoding="utf-8"))
    return list(document["interactions"])


def answered_rows(name: str) -> list[dict[str, str]]:
    """Every row the cassette's successful answers hold, as {header name: string value}."""
    found: list[dict[str, str]] = []
    for interaction in interactions(name):
        if interaction["response"]["status"]["code"] != 200:
            continue
        answer = json.loads(interaction["response"]["body"]["string"])
        names = [h["name"] for h in answer["dimensionHeaders"]]
        names += [h["name"] for h in answer["metricHeaders"]]
        for row in answer.get("rows", []):
            values = [v["value"] for v in row["dimensionValues"] + row["metricValues"]]
            found.append(dict(zip(names, values, strict=True)))
    return found


def cents(text: str) -> Decimal:
    """A GA4 currency string rounded to cents the way a person would: half up."""
    return Decimal(text).quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- traffic in pages


@pytest.fixture(scope="module")
def three_pages() -> tuple[list[Message], Replay, Sleeps]:
    return read("traffic_three_pages.yaml", page_size=3)


def test_traffic_is_paged_by_the_rows_received_until_row_count(
    three_pages: tuple[list[Message], Replay, Sleeps],
) -> None:
    messages, replay, _ = three_pages
    assert replay.urls == [RUN_REPORT] * 3 == replay.recorded_urls
    sent = bodies(replay)
    # 3 rows, then 2 (fewer than asked although rowCount says 7), then the last 2
    assert [(b["offset"], b["limit"]) for b in sent] == [("0", "3"), ("3", "3"), ("5", "3")]
    for body in sent:
        assert body["dateRanges"] == [{"startDate": "2025-03-27", "endDate": "2025-04-02"}]
        assert [d["name"] for d in body["dimensions"]] == TRAFFIC_DIMENSIONS
        assert [m["name"] for m in body["metrics"]] == [
            "sessions",
            "ecommercePurchases",
            "purchaseRevenue",
        ]
        # a stable order on every dimension, or the pages could overlap (apis.md §3.3)
        assert body["orderBys"] == [
            {"dimension": {"dimensionName": name, "orderType": "ALPHANUMERIC"}}
            for name in TRAFFIC_DIMENSIONS
        ]
        assert body["keepEmptyRows"] is False and body["returnPropertyQuota"] is True
    assert checkpoints(messages) == [("traffic", {"last_date": "2025-04-02"})]
    assert isinstance(messages[-1], Checkpoint)


def test_traffic_records_keep_special_values_and_parse_metrics_without_noise(
    three_pages: tuple[list[Message], Replay, Sleeps],
) -> None:
    out = records(three_pages[0], "traffic")
    written = answered_rows("traffic_three_pages.yaml")
    assert len(out) == len(written) == 7
    assert len({r["_hub"]["key"] for r in out}) == 7
    # totals from the cassette text, and by hand: 41+3+12+88+2+9+17 sessions
    assert sum(r["sessions"] for r in out) == sum(int(w["sessions"]) for w in written) == 172
    assert sum(r["ecommercePurchases"] for r in out) == 8
    revenue = [r["purchaseRevenue"] for r in out]
    assert revenue == ["96.00", "0.00", "89.90", "1024.70", "0.00", "241.30", "0.00"]
    assert sum(Decimal(v) for v in revenue) == Decimal("1451.90")
    assert sum(cents(w["purchaseRevenue"]) for w in written) == Decimal("1451.90")

    unset = out[1]
    assert [unset[name] for name in TRAFFIC_DIMENSIONS[1:]] == [
        "(not set)",
        "(not set)",
        "(not set)",
        "(not set)",
        "mobile",
        "(not set)",
    ]
    assert unset["sessions"] == 3 and unset["ecommercePurchases"] == 0
    assert (
        unset["_hub"]["key"]
        == "2025-03-29|(not set)|(not set)|(not set)|(not set)|mobile|(not set)"
    )
    direct = out[0]
    assert (direct["sessionSource"], direct["sessionMedium"], direct["sessionCampaignName"]) == (
        "(direct)",
        "(none)",
        "(direct)",
    )
    assert {r["_hub"]["currency"] for r in out} == {"EUR"}
    assert {r["_hub"]["time_zone"] for r in out} == {"Europe/Vienna"}
    day_starts = {r["date"]: r["_hub"]["day_start"] for r in out}
    assert day_starts == {
        "2025-03-29": "2025-03-28T23:00:00+00:00",  # CET
        "2025-03-30": "2025-03-29T23:00:00+00:00",  # the DST day starts in CET
        "2025-03-31": "2025-03-30T22:00:00+00:00",  # CEST
    }


def test_traffic_becomes_click_rows_by_day_and_channel(
    three_pages: tuple[list[Message], Replay, Sleeps],
) -> None:
    clicks = normalize(three_pages[0], "traffic")["click"]
    assert len(clicks) == 7
    assert sum(c["count"] for c in clicks) == 172
    assert {c["day"] for c in clicks} == {date(2025, 3, 29), date(2025, 3, 30), date(2025, 3, 31)}
    by_channel = {
        (c["day"], c["channel_source"], c["channel_medium"], c["channel_campaign"]): c
        for c in clicks
    }
    assert len(by_channel) == 7
    unset = by_channel[(date(2025, 3, 29), "(not set)", "(not set)", "(not set)")]
    assert unset["count"] == 3 and unset["device"] == "mobile"
    assert unset["country"] is None and unset["extra"]["countryId"] == "(not set)"
    direct = by_channel[(date(2025, 3, 29), "(direct)", "(none)", "(direct)")]
    assert (direct["count"], direct["device"], direct["country"]) == (41, "desktop", "AT")
    organic = by_channel[(date(2025, 3, 30), "google", "organic", "(organic)")]
    assert organic["count"] == 88
    referral = by_channel[(date(2025, 3, 30), "www.awin1.com", "referral", "(referral)")]
    assert (referral["count"], referral["device"]) == (2, "tablet")
    awin = by_channel[(date(2025, 3, 29), "awin", "affiliate", "spring-sale")]
    assert (awin["count"], awin["country"]) == (12, "DE")
    zero_sales = by_channel[(date(2025, 3, 31), "google", "cpc", "brand-at")]
    assert zero_sales["count"] == 17  # a row with zero purchases is still traffic
    for click in clicks:
        assert click["id"] == make_id(TENANT, "ga4", "click", click["external_id"])
        assert click["occurred_at"] is None  # aggregated rows: a day, no instant


def test_the_client_pauses_once_an_hourly_quota_drops_below_the_reserve(
    three_pages: tuple[list[Message], Replay, Sleeps],
) -> None:
    # Page 2 leaves 1390 of a standard property's 14000 tokens per project per hour:
    # below the default 10 % reserve, so page 3 waits quota_pause_seconds (60) first.
    assert three_pages[2] == [60.0]


def test_the_cassette_pins_the_request_body() -> None:
    # The same URL with another page size is not in the cassette: vcrpy refuses it.
    with use_cassette(
        "ga4/traffic_three_pages.yaml", match_on=MATCH_ON_BODY, allow_unplayed=True
    ) as replay:
        connector = GA4Connector(settings(page_size=4), sleep=Sleeps(), now=lambda: NOW)
        try:
            with pytest.raises(CannotOverwriteExistingCassetteException):
                list(connector.read(["traffic"], {}))
        finally:
            connector.close()
    assert replay.sent == []


def test_the_token_is_sent_as_a_bearer_header_that_the_cassette_leaves_out(
    three_pages: tuple[list[Message], Replay, Sleeps],
) -> None:
    _, replay, _ = three_pages
    for sent in replay.sent:
        assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
        assert sent.headers["Content-Type"] == "application/json"
        stored = replay.cassette.filter_request(sent)  # what vcrpy would record
        assert "Authorization" not in stored.headers
        assert TOKEN not in json.dumps(dict(stored.headers))


# --------------------------------------------------------------------------- 429 between pages


def test_a_429_between_pages_waits_30_seconds_and_asks_the_same_page_again() -> None:
    messages, replay, sleeps = read("traffic_429.yaml", page_size=3)
    assert replay.urls == [RUN_REPORT] * 3
    sent = bodies(replay)
    assert [b["offset"] for b in sent] == ["0", "3", "3"]
    assert sent[1] == sent[2]  # the refused page is asked again, unchanged
    assert sleeps == [30.0]  # "Exhausted concurrent requests quota.": about 30 s
    out = records(messages, "traffic")
    written = answered_rows("traffic_429.yaml")
    assert len(out) == len(written) == 5  # nothing lost, nothing twice
    assert len({r["_hub"]["key"] for r in out}) == 5
    assert sum(r["sessions"] for r in out) == sum(int(w["sessions"]) for w in written) == 100
    noisy = next(r for r in out if r["sessionSource"] == "awin" and r["date"] == "2025-04-01")
    assert noisy["purchaseRevenue"] == "313.70"  # "313.70000000000005"
    assert noisy["ecommercePurchases"] == 2
    assert checkpoints(messages) == [("traffic", {"last_date": "2025-04-02"})]
    clicks = normalize(messages, "traffic")["click"]
    unset = [c for c in clicks if c["channel_source"] == "(not set)"]
    assert len(unset) == 1
    assert (unset[0]["channel_medium"], unset[0]["channel_campaign"]) == ("(not set)", "(not set)")
    assert (unset[0]["day"], unset[0]["count"], unset[0]["country"]) == (
        date(2025, 4, 2),
        1,
        None,
    )


# --------------------------------------------------------------------------- purchases, items


@pytest.fixture(scope="module")
def purchases_and_items() -> tuple[list[Message], Replay, Sleeps]:
    return read("purchases_and_items.yaml", streams=("purchases", "items"))


@pytest.fixture(scope="module")
def conversions(
    purchases_and_items: tuple[list[Message], Replay, Sleeps],
) -> dict[str, Row]:
    rows = normalize(purchases_and_items[0], "purchases")["conversion"]
    found = {row["external_id"]: row for row in rows}
    assert len(found) == len(rows), "a purchase was mapped twice"
    return found


@pytest.fixture(scope="module")
def items(purchases_and_items: tuple[list[Message], Replay, Sleeps]) -> list[Row]:
    return normalize(purchases_and_items[0], "items")["conversion_item"]


def test_purchases_and_items_are_one_page_each(
    purchases_and_items: tuple[list[Message], Replay, Sleeps],
) -> None:
    messages, replay, sleeps = purchases_and_items
    assert replay.urls == [RUN_REPORT] * 2
    purchases_body, items_body = bodies(replay)
    assert [d["name"] for d in purchases_body["dimensions"]][:2] == ["date", "transactionId"]
    assert [m["name"] for m in items_body["metrics"]] == ["itemRevenue", "itemsPurchased"]
    assert {b["limit"] for b in (purchases_body, items_body)} == {"10000"}
    assert sleeps == []
    assert checkpoints(messages) == [
        ("purchases", {"last_date": "2025-04-02"}),
        ("items", {"last_date": "2025-04-02"}),
    ]


def test_purchase_rows_of_one_transaction_are_one_conversion(
    conversions: dict[str, Row],
) -> None:
    assert set(conversions) == {"2049", "2051", "2052", "2025-03-30|(not set)"}
    merged = conversions["2051"]  # "(direct)" 1 purchase 89.9 + "awin" 2 purchases 179.8
    assert merged["amount"] == Decimal("269.70")
    assert merged["extra"]["ecommercePurchases"] == 3
    # the channel of the row with more purchases
    assert (merged["channel_source"], merged["channel_medium"]) == ("awin", "affiliate")
    assert (merged["device"], merged["country"]) == ("desktop", "DE")
    assert merged["order_ref"] == "2051"


def test_conversion_amounts_are_exact_decimals_in_the_property_currency(
    conversions: dict[str, Row],
) -> None:
    amounts = {key: row["amount"] for key, row in conversions.items()}
    assert amounts == {
        "2049": Decimal("1024.70"),  # "1024.7000000000001"
        "2025-03-30|(not set)": Decimal("39.90"),  # "24.9" + "15"
        "2051": Decimal("269.70"),  # "89.9" + "179.8"
        "2052": Decimal("241.30"),  # "241.3"
    }
    for amount in amounts.values():
        assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2
    written = answered_rows("purchases_and_items.yaml")
    revenue = sum(cents(w["purchaseRevenue"]) for w in written if "purchaseRevenue" in w)
    assert sum(amounts.values()) == revenue == Decimal("1575.60")
    assert {row["currency"] for row in conversions.values()} == {"EUR"}


def test_conversions_occur_at_midnight_of_their_day_in_vienna(
    conversions: dict[str, Row],
) -> None:
    occurred = {key: row["occurred_at"] for key, row in conversions.items()}
    assert occurred == {
        "2049": datetime(2025, 3, 28, 23, 0, tzinfo=UTC),  # 2025-03-29 00:00 CET
        "2025-03-30|(not set)": datetime(2025, 3, 29, 23, 0, tzinfo=UTC),  # 00:00 CET
        "2051": datetime(2025, 3, 29, 23, 0, tzinfo=UTC),
        "2052": datetime(2025, 3, 30, 22, 0, tzinfo=UTC),  # 2025-03-31 00:00 CEST
    }


def test_purchases_without_a_transaction_id_have_no_order_ref(
    conversions: dict[str, Row],
) -> None:
    unset = conversions["2025-03-30|(not set)"]
    assert unset["order_ref"] is None
    assert unset["extra"]["transactionId"] == "(not set)"  # the raw value is kept
    assert unset["extra"]["ecommercePurchases"] == 2
    # two rows of one day without an id: merged; GA4's channel of one of them is kept
    assert unset["channel_source"] in {"(direct)", "awin"}
    for key in ("2049", "2051", "2052"):
        assert conversions[key]["order_ref"] == key
    sale = conversions["2049"]
    assert (sale["channel_source"], sale["channel_medium"]) == ("google", "organic")
    assert (sale["device"], sale["country"]) == ("desktop", "AT")


def test_item_rows_point_at_the_conversion_of_their_transaction(
    conversions: dict[str, Row], items: list[Row]
) -> None:
    assert len(items) == 6
    ids = {key: make_id(TENANT, "ga4", "conversion", key) for key in conversions}
    assert {key: row["id"] for key, row in conversions.items()} == ids
    by_conversion: dict[str, list[Row]] = {}
    for item in items:
        by_conversion.setdefault(item["conversion_id"], []).append(item)
    assert set(by_conversion) == set(ids.values())  # every item has its conversion
    titles = {
        key: sorted(i["title"] for i in by_conversion[conversion_id])
        for key, conversion_id in ids.items()
    }
    assert titles == {
        "2049": ["Stirnlampe Lux 400", "Zelt Dachstein 2P"],
        "2025-03-30|(not set)": ["Gutschein 25 EUR", "Trinkflasche 0,75 l"],
        "2051": ["Tagesrucksack 28 l"],
        "2052": ["Trekkingstöcke Karwendel"],
    }
    # item revenue of a transaction adds up to its purchase revenue in this cassette
    for key, conversion in conversions.items():
        assert sum(i["amount"] for i in by_conversion[ids[key]]) == conversion["amount"], key


def test_item_values_and_two_items_without_an_id(items: list[Row]) -> None:
    by_title = {item["title"]: item for item in items}
    assert len(by_title) == 6
    lamp = by_title["Stirnlampe Lux 400"]
    assert (lamp["sku"], lamp["line_ref"], lamp["category"]) == (
        "ALP-STIRN-400",
        "ALP-STIRN-400",
        "Beleuchtung",
    )
    assert (lamp["quantity"], lamp["amount"], lamp["currency"]) == (2, Decimal("124.80"), "EUR")
    backpack = by_title["Tagesrucksack 28 l"]
    assert (backpack["quantity"], backpack["amount"]) == (3, Decimal("269.70"))  # float noise
    assert backpack["category"] == "Rucksäcke"
    voucher, bottle = by_title["Gutschein 25 EUR"], by_title["Trinkflasche 0,75 l"]
    for unnamed in (voucher, bottle):
        assert unnamed["sku"] is None and unnamed["line_ref"] == "(not set)"
        assert unnamed["quantity"] == 1
    assert voucher["id"] != bottle["id"]  # same itemId "(not set)", two rows kept apart
    assert voucher["category"] == "(not set)" and bottle["category"] == "Zubehör"
    assert (voucher["amount"], bottle["amount"]) == (Decimal("24.90"), Decimal("15.00"))
    for item in items:
        assert item["id"] == make_id(TENANT, "ga4", "conversion_item", item["external_id"])


# --------------------------------------------------------------------------- empty, errors


def test_an_empty_report_without_rows_or_row_count_ends_the_window() -> None:
    messages, replay, sleeps = read(
        "traffic_empty_incremental.yaml",
        state={"traffic": {"last_date": "2025-04-02"}},
        now=datetime(2025, 4, 2, 21, 30, tzinfo=UTC),
    )
    (body,) = bodies(replay)
    # three days of lookback before the saved day, through today in Vienna
    assert body["dateRanges"] == [{"startDate": "2025-03-30", "endDate": "2025-04-02"}]
    assert records(messages, "traffic") == []
    assert checkpoints(messages) == [("traffic", {"last_date": "2025-04-02"})]
    assert sleeps == []


def test_a_property_without_access_is_an_auth_error_with_the_viewer_hint() -> None:
    with pytest.raises(AuthError) as caught:
        read("property_403.yaml", property_id=409876999)
    error = caught.value
    assert "HTTP 403" in error.message
    assert "User does not have sufficient permissions for this property" in error.message
    assert "PERMISSION_DENIED" in error.message
    assert error.hint is not None
    assert "Viewer" in error.hint and "property_id" in error.hint
    for shown in (str(error), repr(error.args), error.message, error.hint):
        assert TOKEN not in shown and "ya29." not in shown


def test_a_403_is_not_retried() -> None:
    sleeps = Sleeps()
    with use_cassette("ga4/property_403.yaml", match_on=MATCH_ON_BODY) as replay:
        connector = GA4Connector(settings(property_id=409876999), sleep=sleeps, now=lambda: NOW)
        try:
            with pytest.raises(AuthError):
                list(connector.read(["traffic"], {}))
        finally:
            connector.close()
    assert replay.urls == [f"{API}/properties/409876999:runReport"]
    assert sleeps == []


def test_an_unknown_metric_fails_at_once_with_googles_message_and_a_hint() -> None:
    report = {
        "name": "partner_sessions",
        "dimensions": ["date", "sessionSource"],
        "metrics": ["sessions", "purchases"],
    }
    sleeps = Sleeps()
    with use_cassette("ga4/report_400_invalid_metric.yaml", match_on=MATCH_ON_BODY) as replay:
        connector = GA4Connector(settings(reports=[report]), sleep=sleeps, now=lambda: NOW)
        try:
            with pytest.raises(FatalConnectorError) as caught:
                list(connector.read(["partner_sessions"], {}))
        finally:
            connector.close()
    assert replay.urls == [RUN_REPORT]  # not retried
    assert sleeps == []
    error = caught.value
    assert not isinstance(error, AuthError)
    assert "HTTP 400" in error.message
    assert "Field purchases is not a valid metric" in error.message
    assert error.hint is not None and "metadata" in error.hint
    assert TOKEN not in str(error)


# --------------------------------------------------------------------------- the files


def test_the_ga4_cassettes_hold_no_credential_and_follow_the_reference_shapes() -> None:
    files = [path for path in cassette_files() if path.parent == GA4_DIR]
    assert {path.name for path in files} == {
        "traffic_three_pages.yaml",
        "traffic_429.yaml",
        "traffic_empty_incremental.yaml",
        "purchases_and_items.yaml",
        "property_403.yaml",
        "report_400_invalid_metric.yaml",
    }
    for path in files:
        written = path.read_text(encoding="utf-8")
        assert scan_for_secrets(written, extra_values=[TOKEN]) == [], path.name
        header = written.split("\nversion:", 1)[0]
        assert header.startswith("# Written by hand from ../shared/reference/apis.md §3"), path.name
        assert "Connection:" in header and "No credentials in this file" in header, path.name
        for interaction in yaml.safe_load(written)["interactions"]:
            request, response = interaction["request"], interaction["response"]
            assert request["method"] == "POST", path.name
            assert request["uri"].startswith(f"{API}/properties/"), path.name
            assert request["uri"].endswith(":runReport"), path.name
            assert not {name.lower() for name in request["headers"]} & {"authorization"}
            assert request["headers"]["Content-Type"] == ["application/json"], path.name
            body = json.loads(request["body"])
            assert isinstance(body["offset"], str) and isinstance(body["limit"], str)
            answer = json.loads(response["body"]["string"])
            code = response["status"]["code"]
            if code != 200:
                assert set(answer) == {"error"}, path.name
                assert answer["error"]["code"] == code, path.name
                continue
            _check_report_shape(answer, body, path.name)


def _check_report_shape(answer: dict[str, Any], body: dict[str, Any], where: str) -> None:
    """apis.md §3.4: positional string values, proto3 omissions, metadata, quota, kind."""
    assert answer["kind"] == "analyticsData#runReport", where
    assert [h["name"] for h in answer["dimensionHeaders"]] == [
        d["name"] for d in body["dimensions"]
    ], where
    assert [h["name"] for h in answer["metricHeaders"]] == [m["name"] for m in body["metrics"]]
    assert set(answer["metadata"]) == {"currencyCode", "timeZone"}, where
    quota = answer["propertyQuota"]
    assert "consumed" not in quota["concurrentRequests"], where  # proto3 leaves out zeros
    for entry in quota.values():
        assert all(isinstance(value, int) for value in entry.values()), where
    rows = answer.get("rows")
    if rows is None:  # an empty report: neither rows nor rowCount
        assert "rowCount" not in answer, where
        return
    assert rows and isinstance(answer["rowCount"], int), where
    assert len(rows) <= int(body["limit"]), where
    assert int(body["offset"]) + len(rows) <= answer["rowCount"], where
    for row in rows:
        assert len(row["dimensionValues"]) == len(answer["dimensionHeaders"]), where
        assert len(row["metricValues"]) == len(answer["metricHeaders"]), where
        for value in row["dimensionValues"] + row["metricValues"]:
            assert set(value) == {"value"} and isinstance(value["value"], str), where
    dates = [row["dimensionValues"][0]["value"] for row in rows]
    assert all(len(d) == 8 and d.isdigit() for d in dates), where  # YYYYMMDD
    keys = [[v["value"] for v in row["dimensionValues"]] for row in rows]
    assert keys == sorted(keys), where  # as the ALPHANUMERIC orderBys ask
