"""The ``ga4-measurement`` destination against a fake of GA4's Measurement Protocol.

The fake answers ``POST /mp/collect`` with 204 whatever the body (as GA4 does:
collect never reports errors) and ``POST /debug/mp/collect`` with
``{"validationMessages": [...]}``, checking a few of GA4's documented rules
itself (client_id present, at most 25 events, a currency per event, item_id or
item_name per item) plus messages a test injects per transaction id. Both
endpoints check ``measurement_id`` and ``api_secret`` in the query string.

Expected events are written out by hand from the conversions below, never
taken from the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from connectors.ga4.measurement import (
    COLLECT_PATH,
    DEBUG_PATH,
    MAX_BODY_BYTES,
    GA4MeasurementDestination,
    GA4MeasurementSettings,
    client_id_of,
    load_conversions,
    purchase_from_conversion,
)
from hub.errors import FatalConnectorError, RecordError, RetryBudgetExceededError
from hub.schema import ConversionItemRow, ConversionRow, make_id
from hub.store import LINKS_KEY, Store
from hub.testing.leaks import capture_raw_logs, find_leaks

SECRET = "mp-secret-Zq7xW3pL9vK2"
MEASUREMENT_ID = "G-HUB4TEST7"
BASE_URL = "https://ga.test"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
TENANT = "alpenglueck"
#: 30 hours ago: past the default 24 settle hours, inside GA4's 72-hour window.
WHEN = NOW - timedelta(hours=30)


# -- the fake Measurement Protocol -----------------------------------------------------------


class FakeMeasurementProtocol:
    """GA4's collect and validation endpoints for one web stream, in memory."""

    def __init__(self, prefix: str = "", secret: str = SECRET) -> None:
        self.prefix = prefix
        self.secret = secret
        self.requests: list[httpx.Request] = []
        #: transaction_id -> the validationMessages GA4 gives for its event
        self.refuse: dict[str, list[dict[str, str]]] = {}
        #: messages that name no event (attached to every debug answer)
        self.general: list[dict[str, str]] = []
        self.script: list[httpx.Response] = []
        self.echo_secret = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def collected(self) -> list[dict[str, Any]]:
        """Bodies that reached /mp/collect (what GA4 recorded)."""
        return [
            json.loads(r.content) for r in self.requests if r.url.path == self.prefix + COLLECT_PATH
        ]

    def debugged(self) -> list[dict[str, Any]]:
        return [
            json.loads(r.content) for r in self.requests if r.url.path == self.prefix + DEBUG_PATH
        ]

    def transactions(self) -> list[str]:
        return [
            event["params"]["transaction_id"]
            for body in self.collected()
            for event in body["events"]
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            return self.script.pop(0)
        params = request.url.params
        if (
            params.get("api_secret") != self.secret
            or params.get("measurement_id") != MEASUREMENT_ID
        ):
            text = "forbidden"
            if self.echo_secret:  # a careless server: the message must still hide it
                text = f"bad api_secret {params.get('api_secret')}"
            return httpx.Response(403, json={"error": {"code": 403, "message": text}})
        if request.method != "POST":
            return httpx.Response(405)
        body = json.loads(request.content)
        if request.url.path == self.prefix + COLLECT_PATH:
            return httpx.Response(204)
        if request.url.path == self.prefix + DEBUG_PATH:
            return httpx.Response(200, json={"validationMessages": self.validate(body)})
        return httpx.Response(404, text="<html><title>Not Found</title></html>")

    def validate(self, body: dict[str, Any]) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = list(self.general)
        if not body.get("client_id"):
            messages.append(_message("client_id", "client_id is required", "VALUE_REQUIRED"))
        events = body.get("events") or []
        if len(events) > 25:
            messages.append(_message("events", "too many events", "EXCEEDED_MAX_ENTITIES"))
        for index, event in enumerate(events):
            params = event.get("params") or {}
            if len(str(params.get("currency") or "")) != 3:
                messages.append(
                    _message(f"events[{index}].params.currency", "bad currency", "VALUE_INVALID")
                )
            for item in params.get("items") or []:
                if not item.get("item_id") and not item.get("item_name"):
                    messages.append(
                        _message(f"events[{index}].params.items", "no id", "VALUE_REQUIRED")
                    )
            for message in self.refuse.get(params.get("transaction_id"), []):
                messages.append({**message, "fieldPath": f"events[{index}].{message['fieldPath']}"})
        return messages


def _message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


# -- canonical rows --------------------------------------------------------------------------


def line(line_ref: str, amount: str | None, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "line_ref": line_ref,
        "amount": Decimal(amount) if amount is not None else None,
        "quantity": quantity,
        **fields,
    }


def conversion(
    external_id: str = "2042",
    lines: list[dict[str, Any]] | None = None,
    *,
    source: str = "shopify",
    tenant: str = TENANT,
    client_id: str | None = "111.222",
    **fields: Any,
) -> dict[str, Any]:
    """A validated canonical conversion with its ``items`` (as load_conversions yields it).

    ``client_id`` goes into ``extra.note_attributes`` as the shop's ``ga_client_id``
    cart attribute (None: no attribute).
    """
    conversion_id = make_id(tenant, source, "conversion", external_id)
    seen_by_ga4 = fields.pop("seen_by_ga4", None)
    currency = fields.get("currency", "EUR")
    extra = dict(fields.pop("extra", {}))
    if client_id is not None:
        extra.setdefault("note_attributes", []).append({"name": "ga_client_id", "value": client_id})
    values: dict[str, Any] = {
        "id": conversion_id,
        "tenant": tenant,
        "source": source,
        "connection": f"{source}-main",
        "external_id": external_id,
        "source_updated_at": NOW - timedelta(days=2),
        "synced_at": NOW - timedelta(hours=1),
        "order_ref": external_id,
        "occurred_at": WHEN,
        "status": "pending",
        "amount": Decimal("100.00"),
        "currency": currency,
        "extra": extra,
        **fields,
    }
    row = ConversionRow(**values).model_dump()
    if seen_by_ga4 is not None:  # what load_conversions adds
        row["seen_by_ga4"] = seen_by_ga4
    items = []
    for item in lines if lines is not None else [line("1", "100.00", sku=f"SKU-{external_id}")]:
        item_values = {
            "id": make_id(tenant, source, "conversion_item", f"{external_id}-{item['line_ref']}"),
            "tenant": tenant,
            "source": source,
            "connection": f"{source}-main",
            "external_id": f"{external_id}-{item['line_ref']}",
            "synced_at": NOW - timedelta(hours=1),
            "conversion_id": conversion_id,
            "currency": currency,
            **item,
        }
        items.append(ConversionItemRow(**item_values).model_dump())
    row["items"] = items
    return row


def ga4_purchase(order_ref: str, tenant: str = TENANT) -> dict[str, Any]:
    """A purchase as the GA4 source stores it: source ga4, order_ref = transactionId."""
    return conversion(
        f"ga4-{order_ref}",
        [],
        source="ga4",
        tenant=tenant,
        client_id=None,
        order_ref=order_ref,
        status="approved",
    )


def settings(**options: Any) -> GA4MeasurementSettings:
    values: dict[str, Any] = {
        "measurement_id": MEASUREMENT_ID,
        "api_secret": SECRET,
        "mp_base_url": BASE_URL,
        **options,
    }
    return GA4MeasurementSettings(**values)


def destination(
    fake: FakeMeasurementProtocol, sleeps: list[float] | None = None, **options: Any
) -> GA4MeasurementDestination:
    return GA4MeasurementDestination(
        settings(**options),
        transport=fake.transport(),
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: NOW,
    )


def micros(when: datetime) -> int:
    return int((when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000


@pytest.fixture
def fake() -> FakeMeasurementProtocol:
    return FakeMeasurementProtocol()


# -- the event -------------------------------------------------------------------------------


def test_the_purchase_event_of_a_shopify_style_order() -> None:
    row = conversion(
        "2042",
        [
            line(
                "16200000000421",
                "108.00",
                1,
                sku="ALP-RUCK-28-BLU",
                title="Tagesrucksack Alpsee 28 l - Blau",
                category="Rucksäcke",
                unit_price=Decimal("120.00"),
                discount=Decimal("12.00"),
            ),
            # 3 bottles at 9.95, 1.50 discount on the line, one bottle refunded
            line(
                "16200000000422",
                "28.35",
                3,
                refunded_quantity=1,
                title="Trinkflasche",
                unit_price=Decimal("9.95"),
                discount=Decimal("1.50"),
            ),
            line("16200000000423", "5.00", 1, refunded_quantity=1, title="Karte"),
        ],
        client_id=None,
        amount=Decimal("152.15"),
        refunded_amount=Decimal("14.45"),
        voucher_codes=["SPRING10", "EXTRA"],
        extra={
            "note_attributes": [
                {"name": "awc", "value": "15880_1_x"},
                {"name": "_ga", "value": "GA1.1.1234567890.1741960000"},
                {"name": "ga_session_id", "value": "1741964000"},
            ],
            "total_tax": "0.00",
            "total_shipping_price_set": {
                "shop_money": {"amount": "14.90", "currency_code": "EUR"},
                "presentment_money": {"amount": "14.02", "currency_code": "CHF"},
            },
        },
    )

    purchase = purchase_from_conversion(row, row["items"], settings())

    assert (purchase.client_id, purchase.client_id_derived) == ("1234567890.1741960000", False)
    assert purchase.value == Decimal("137.70")
    assert purchase.event == {
        "name": "purchase",
        "timestamp_micros": micros(WHEN),
        "params": {
            "transaction_id": "2042",
            "value": 137.7,  # 152.15 - 14.45
            "currency": "EUR",
            "tax": 0.0,
            "shipping": 14.9,
            "coupon": "SPRING10",
            "items": [
                {
                    "item_id": "ALP-RUCK-28-BLU",
                    "item_name": "Tagesrucksack Alpsee 28 l - Blau",
                    "item_category": "Rucksäcke",
                    "price": 108.0,  # after the 12.00 discount
                    "quantity": 1,
                    "discount": 12.0,
                },
                {
                    "item_id": "16200000000422",  # no sku: the line id
                    "item_name": "Trinkflasche",
                    "price": 9.45,  # 28.35 / 3
                    "quantity": 2,  # one of three refunded
                    "discount": 0.5,  # 1.50 / 3 per unit
                },
                # the card was refunded entirely: not in the event
            ],
            "session_id": 1741964000,
            "engagement_time_msec": 1,
        },
    }


def test_optional_params_appear_only_when_the_conversion_has_them() -> None:
    row = conversion("3001", [line("1", None, 2, title="Socken", unit_price=Decimal("4.995"))])
    params = purchase_from_conversion(row, row["items"], settings()).event["params"]
    assert set(params) == {"transaction_id", "value", "currency", "items"}
    # no amount: unit price x quantity, then per unit, half up to cents
    assert params["items"] == [{"item_id": "1", "item_name": "Socken", "price": 5.0, "quantity": 2}]

    no_items = conversion("3002", [], amount=Decimal("19.99"))
    assert "items" not in purchase_from_conversion(no_items, [], settings()).event["params"]


def test_shipping_in_another_currency_than_the_order_is_left_out() -> None:
    row = conversion(
        "3003",
        extra={"total_shipping_price_set": {"shop_money": {"amount": "5", "currency_code": "CHF"}}},
    )
    assert "shipping" not in purchase_from_conversion(row, row["items"], settings()).event["params"]


def test_amounts_are_json_numbers_with_at_most_two_decimals() -> None:
    row = conversion("3004", [line("1", "0.10", 3, title="x")], amount=Decimal("0.30"))
    event = purchase_from_conversion(row, row["items"], settings()).event
    text = json.dumps(event)
    assert '"value": 0.3' in text and '"price": 0.03' in text  # 0.0333... half up to 0.03


@pytest.mark.parametrize(
    ("fields", "lines", "message"),
    [
        ({"order_ref": None}, None, "has no order_ref"),
        ({}, [line("", "5.00", sku=None, title=None)], "neither sku"),
        ({}, [line("1", "5.00", currency="USD")], "is in USD, the order in EUR"),
        ({}, [line(str(n), "1.00", title="t") for n in range(201)], "at most 200"),
    ],
    ids=["no order_ref", "nameless item", "item currency", "201 items"],
)
def test_events_that_cannot_be_built_are_record_errors(
    fields: dict[str, Any], lines: list[dict[str, Any]] | None, message: str
) -> None:
    row = conversion("5001", lines, **fields)
    with pytest.raises(RecordError, match=message) as caught:
        purchase_from_conversion(row, row["items"], settings())
    assert row["id"] in str(caught.value)


def test_a_conversion_without_currency_or_time_is_a_record_error() -> None:
    row = conversion("5002")
    row["currency"] = None
    with pytest.raises(RecordError, match="has no currency"):
        purchase_from_conversion(row, row["items"], settings())
    row = conversion("5003", occurred_at=None)
    with pytest.raises(RecordError, match="has no occurred_at"):
        purchase_from_conversion(row, row["items"], settings())


# -- client ids ------------------------------------------------------------------------------


def test_the_client_id_comes_from_the_shop_first_attribute_name_first() -> None:
    config = settings()
    cookie = conversion("1", client_id=None, extra={"_ga": "GA1.2.987654321.1700000000"})
    assert client_id_of(cookie, config) == ("987654321.1700000000", False)
    both = conversion(
        "2", client_id="555.666", extra={"note_attributes": [{"name": "_ga", "value": " "}]}
    )
    assert client_id_of(both, config) == ("555.666", False)  # a blank _ga does not count
    plain = conversion("3", client_id=None, extra={"client_id": "42.43"})
    assert client_id_of(plain, config) == ("42.43", False)
    custom = settings(client_id_fields=("gacid",))
    named = conversion("4", client_id=None, extra={"gacid": "7.8", "_ga": "GA1.1.1.2"})
    assert client_id_of(named, custom) == ("7.8", False)


def test_a_derived_client_id_is_stable_per_customer_and_stream() -> None:
    config = settings()
    first = conversion("10", client_id=None, customer_ref="c" * 64)
    second = conversion("11", client_id=None, customer_ref="c" * 64)
    stranger = conversion("12", client_id=None, customer_ref="d" * 64)
    anonymous = conversion("13", client_id=None)

    derived = client_id_of(first, config)
    assert derived is not None and derived[1] is True
    assert client_id_of(second, config) == derived
    assert client_id_of(stranger, config) != derived
    assert client_id_of(anonymous, config) != derived
    assert client_id_of(first, settings(measurement_id="G-OTHER123")) != derived
    left, right = derived[0].split(".")
    assert len(left) == len(right) == 10 and left.isdigit() and right.isdigit()

    assert client_id_of(first, settings(without_client_id="skip")) is None


# -- write: what is sent ---------------------------------------------------------------------


def test_only_eligible_conversions_are_sent_and_the_others_are_counted_by_reason(
    fake: FakeMeasurementProtocol,
) -> None:
    other_stream = {LINKS_KEY: {"ga4_mp": {"G-OTHER123": {"sent_at": "x"}}}}
    rows = [
        conversion("6001"),
        conversion("6002", occurred_at=NOW - timedelta(hours=72)),  # exactly 72 h: still sent
        conversion("6003", occurred_at=NOW - timedelta(hours=24)),  # exactly settled: sent
        conversion("6004", extra=other_stream),  # sent to another stream only
        conversion("6101", source="ga4"),
        conversion("6102", seen_by_ga4=True),
        conversion("6103", is_test=True),
        conversion("6104", status="declined"),
        conversion("6105", status="cancelled"),
        conversion("6106", occurred_at=NOW - timedelta(hours=72, seconds=1)),
        conversion("6107", occurred_at=NOW - timedelta(hours=23, minutes=59)),
        conversion("6108", occurred_at=None),
        conversion("6109", amount=Decimal("50.00"), refunded_amount=Decimal("50.00")),
        conversion(
            "6110", extra={LINKS_KEY: {"ga4_mp": {MEASUREMENT_ID: {"sent_at": "2025-04-30"}}}}
        ),
    ]

    result = destination(fake).write(rows)

    assert sorted(fake.transactions()) == ["6001", "6002", "6003", "6004"]
    assert (result.sent, result.unchanged, result.failed, result.skipped) == (4, 1, 0, 9)
    assert result.skip_reasons == {
        "a GA4 purchase": 1,
        "seen by GA4": 1,
        "test order": 1,
        "status declined": 1,
        "status cancelled": 1,
        "older than 72 hours": 1,
        "waiting 24 hours for GA4's report": 1,
        "no occurred_at": 1,
        "nothing left (refunded or zero)": 1,
    }
    assert "4 sent, 1 unchanged, 9 skipped" in result.summary()


def test_sources_statuses_and_windows_are_settings(fake: FakeMeasurementProtocol) -> None:
    rows = [
        conversion("6201", source="shopify", occurred_at=NOW - timedelta(hours=2)),
        conversion("6202", source="pos", status="approved"),
        conversion("6203", source="awin"),
    ]
    config = {"sources": ("shopify", "pos"), "statuses": ("pending",), "settle_hours": 1}
    result = destination(fake, **config).write(rows)
    assert fake.transactions() == ["6201"]
    assert result.skip_reasons == {"source awin not in sources": 1, "status approved": 1}


def test_without_a_client_id_derive_sends_and_skip_skips(fake: FakeMeasurementProtocol) -> None:
    rows = [conversion("6301", client_id=None, customer_ref="a" * 64), conversion("6302")]
    skipped = destination(fake, without_client_id="skip").write(rows)
    assert fake.transactions() == ["6302"] and skipped.skip_reasons == {"no GA client id": 1}

    fresh = FakeMeasurementProtocol()
    derived = destination(fresh).write(rows)
    assert sorted(fresh.transactions()) == ["6301", "6302"]
    assert derived.links[rows[0]["id"]]["client_id_derived"] is True
    assert derived.links[rows[1]["id"]]["client_id"] == "111.222"


def test_events_are_grouped_by_client_id_at_most_25_per_request(
    fake: FakeMeasurementProtocol,
) -> None:
    shared = [conversion(str(10_000 + n), client_id="1.1") for n in range(60)]
    singles = [conversion(str(20_000 + n), client_id=f"2.{n}") for n in range(3)]
    rows = [row for pair in zip(shared[:3], singles, strict=True) for row in pair] + shared[3:]

    result = destination(fake).write(rows)

    bodies = fake.collected()
    by_client: dict[str, list[int]] = {}
    for body in bodies:
        by_client.setdefault(body["client_id"], []).append(len(body["events"]))
    assert sorted(by_client["1.1"]) == [10, 25, 25]
    assert all(by_client[f"2.{n}"] == [1] for n in range(3))
    assert len(bodies) == 6
    assert sorted(fake.transactions()) == sorted(row["order_ref"] for row in rows)
    assert result.sent == 63
    # each request was validated first, with the very body then sent
    assert fake.debugged() == bodies


def test_a_request_of_one_event_also_carries_its_time_and_the_ads_flag(
    fake: FakeMeasurementProtocol,
) -> None:
    destination(fake).write([conversion("6401"), conversion("6402", client_id="9.9")])
    for body in fake.collected():
        assert body["timestamp_micros"] == micros(WHEN)
        assert body["non_personalized_ads"] is True
        assert "user_id" not in body
    destination(fake, non_personalized_ads=False, send_user_id=True).write(
        [conversion("6403", customer_ref="f" * 64)]
    )
    last = fake.collected()[-1]
    assert "non_personalized_ads" not in last and last["user_id"] == "f" * 64


def test_the_batch_size_can_be_lowered(fake: FakeMeasurementProtocol) -> None:
    rows = [conversion(str(30_000 + n)) for n in range(7)]
    destination(fake, batch_size=3).write(rows)
    assert [len(body["events"]) for body in fake.collected()] == [3, 3, 1]


def test_requests_stay_under_the_body_limit(fake: FakeMeasurementProtocol) -> None:
    long = "Wanderrucksack mit Regenhülle und Trinksystem, ultraleicht " * 4
    rows = [
        conversion(str(40_000 + n), [line(str(k), "1.00", title=f"{long} {k}") for k in range(150)])
        for n in range(12)
    ]

    result = destination(fake).write(rows)

    sizes = [len(request.content) for request in fake.requests]
    assert max(sizes) <= MAX_BODY_BYTES
    assert len(fake.collected()) > 1  # 12 such events do not fit in one request
    assert sorted(fake.transactions()) == sorted(row["order_ref"] for row in rows)
    assert result.sent == 12


def test_a_second_conversion_with_the_same_order_ref_fails(fake: FakeMeasurementProtocol) -> None:
    first = conversion("6501", order_ref="A-1")
    twin = conversion("6502", order_ref="A-1", source="pos")
    result = destination(fake).write([first, twin])
    assert fake.transactions() == ["A-1"]
    assert (result.sent, result.failed) == (1, 1)
    assert twin["id"] in result.errors[0] and "'A-1'" in result.errors[0]


# -- validation ------------------------------------------------------------------------------


def test_validation_only_reports_messages_per_conversion_and_sends_nothing(
    fake: FakeMeasurementProtocol,
) -> None:
    fake.refuse["7002"] = [
        _message("params.value", "Value must be a number", "VALUE_INVALID"),
        _message("params.items", "Item id too long", "VALUE_OUT_OF_BOUNDS"),
    ]
    rows = [conversion("7001"), conversion("7002"), conversion("7003", client_id="5.5")]

    result = destination(fake, validate_only=True).write(rows)

    assert fake.collected() == []
    assert len(fake.debugged()) == 2
    assert (result.sent, result.validated, result.failed) == (0, 2, 1)
    assert result.links == {}
    assert result.messages == [
        {
            "conversion_id": rows[1]["id"],
            "transaction_id": "7002",
            "field_path": "events[1].params.value",
            "description": "Value must be a number",
            "validation_code": "VALUE_INVALID",
        },
        {
            "conversion_id": rows[1]["id"],
            "transaction_id": "7002",
            "field_path": "events[1].params.items",
            "description": "Item id too long",
            "validation_code": "VALUE_OUT_OF_BOUNDS",
        },
    ]
    summary = result.summary()
    assert summary.startswith(
        "GA4 Measurement Protocol (validation only, nothing recorded): 2 valid"
    )
    assert "VALUE_INVALID at events[1].params.value: Value must be a number" in summary
    assert rows[1]["id"] in summary


def test_before_sending_refused_events_are_left_out_and_the_rest_sent(
    fake: FakeMeasurementProtocol,
) -> None:
    fake.refuse["7102"] = [_message("params.currency", "Currency unknown", "VALUE_INVALID")]
    rows = [conversion("7101"), conversion("7102"), conversion("7103")]

    result = destination(fake).write(rows)

    assert fake.transactions() == ["7101", "7103"]
    assert (result.sent, result.failed) == (2, 1)
    assert set(result.links) == {rows[0]["id"], rows[2]["id"]}
    assert "Currency unknown" in result.errors[0] and rows[1]["id"] in result.errors[0]


def test_a_message_naming_no_event_fails_every_event_of_the_request(
    fake: FakeMeasurementProtocol,
) -> None:
    fake.general = [_message("", "Unable to parse request", "VALUE_INVALID")]
    rows = [conversion("7201"), conversion("7202")]
    result = destination(fake).write(rows)
    assert fake.collected() == []
    assert (result.sent, result.failed) == (0, 2)


def test_the_description_index_is_used_when_the_field_path_has_none(
    fake: FakeMeasurementProtocol,
) -> None:
    fake.general = [_message("events", "Event at index: [1] has invalid name [x].", "NAME_INVALID")]
    rows = [conversion("7301"), conversion("7302")]
    result = destination(fake, validate_only=True).write(rows)
    assert [m["conversion_id"] for m in result.messages] == [rows[1]["id"]]
    assert result.validated == 1


def test_without_validation_before_sending_only_collect_is_called(
    fake: FakeMeasurementProtocol,
) -> None:
    destination(fake, validate_before_send=False).write([conversion("7401")])
    assert [r.url.path for r in fake.requests] == [COLLECT_PATH]


def test_a_debug_answer_without_messages_key_stops_with_a_hint(
    fake: FakeMeasurementProtocol,
) -> None:
    fake.script = [httpx.Response(200, json={"ok": True})]
    with pytest.raises(FatalConnectorError) as caught:
        destination(fake).write([conversion("7501")])
    assert caught.value.hint is not None and "mp_base_url" in caught.value.hint


def test_check_validates_a_sample_on_the_debug_endpoint(fake: FakeMeasurementProtocol) -> None:
    destination(fake).check()
    assert [r.url.path for r in fake.requests] == [DEBUG_PATH]
    fake.general = [_message("events", "bad", "VALUE_INVALID")]
    with pytest.raises(FatalConnectorError, match="VALUE_INVALID"):
        destination(fake).check()


# -- dry run and secrets ---------------------------------------------------------------------


def test_a_dry_run_sends_nothing_and_plans_what_a_real_run_sends() -> None:
    rows = [conversion("8001"), conversion("8002"), conversion("8003", client_id="3.3")]
    base_url = f"{BASE_URL}/proxy"
    quiet = FakeMeasurementProtocol(prefix="/proxy")

    dry = destination(quiet, mp_base_url=base_url).write(rows, dry_run=True)

    assert quiet.requests == [] and dry.sent == 0 and dry.links == {}
    expected_url = f"{base_url}{COLLECT_PATH}?measurement_id={MEASUREMENT_ID}&api_secret=***"
    assert [p["url"] for p in dry.planned] == [expected_url, expected_url]
    summary = dry.summary()
    assert summary.splitlines()[0].startswith(
        "GA4 Measurement Protocol (dry run, nothing sent): 3 to send"
    )
    assert summary.count(expected_url) == 2

    real = FakeMeasurementProtocol(prefix="/proxy")
    destination(real, mp_base_url=base_url).write(rows)
    assert real.collected() == [p["body"] for p in dry.planned]


def test_the_secret_is_in_no_summary_error_plan_or_log(fake: FakeMeasurementProtocol) -> None:
    fake.refuse["8102"] = [_message("params.value", "bad", "VALUE_INVALID")]
    rows = [conversion("8101"), conversion("8102"), conversion("8103", order_ref=None)]
    with capture_raw_logs() as logs:
        dest = destination(fake)
        result = dest.write(rows)
        dry = dest.write(rows, dry_run=True)
        check = destination(fake, validate_only=True).write(rows)
    assert any(SECRET in str(r.url) for r in fake.requests)  # it really was sent ...
    places = {
        "summary": result.summary(),
        "dry summary": dry.summary(),
        "check summary": check.summary(),
        "errors": result.errors,
        "messages": result.messages,
        "links": result.links,
        "planned": dry.planned,
        "logs": logs,
        "repr": repr(dest.config),
    }
    assert find_leaks([SECRET], places) == []
    assert result.failed == 2 and dry.planned  # the places above hold real content


def test_a_refused_secret_stops_at_once_and_never_shows_it() -> None:
    fake = FakeMeasurementProtocol(secret="the-secret-ga-expects-1")
    fake.echo_secret = True
    sleeps: list[float] = []
    with capture_raw_logs() as logs, pytest.raises(FatalConnectorError) as caught:
        destination(fake, sleeps).write([conversion("8201")])
    assert len(fake.requests) == 1 and sleeps == []
    text = str(caught.value)
    assert "403" in text and DEBUG_PATH in text
    assert find_leaks([SECRET], {"error": text, "hint": caught.value.hint, "logs": logs}) == []


def test_server_errors_are_retried_then_reported_without_the_secret(
    fake: FakeMeasurementProtocol,
) -> None:
    fake.script = [httpx.Response(503), httpx.Response(503)]
    sleeps: list[float] = []
    result = destination(fake, sleeps).write([conversion("8301")])
    assert len(sleeps) == 2 and result.sent == 1

    fake.script = [httpx.Response(500) for _ in range(10)]
    with capture_raw_logs() as logs, pytest.raises(RetryBudgetExceededError) as caught:
        destination(fake, []).write([conversion("8302")])
    assert find_leaks([SECRET], {"error": str(caught.value), "logs": logs}) == []


# -- push with a store -----------------------------------------------------------------------


def save(store: Store, rows: list[dict[str, Any]]) -> None:
    """Upsert conversions and their items as a sync would."""
    conversions = [{k: v for k, v in row.items() if k != "items"} for row in rows]
    items = [item for row in rows for item in row["items"]]
    with store.transaction() as connection:
        store.upsert(connection, "conversion", conversions)
        if items:
            store.upsert(connection, "conversion_item", items)


def mp_link(store: Store, conversion_id: str) -> dict[str, Any] | None:
    table = store.table("conversion")
    with store.transaction() as connection:
        extra = connection.execute(
            select(table.c.extra).where(table.c.id == conversion_id)
        ).scalar_one()
    found: dict[str, Any] | None = (
        ((extra or {}).get(LINKS_KEY) or {}).get("ga4_mp", {}).get(MEASUREMENT_ID)
    )
    return found


def test_load_conversions_flags_what_ga4_saw_and_narrows_in_sql(store: Store) -> None:
    rows = [
        conversion("9001"),
        conversion("9002", [line("1", "5.00"), line("2", "6.00")]),
        conversion("9003"),  # GA4 saw it
        conversion("9004", tenant="someone-else"),
        conversion("9005", occurred_at=NOW - timedelta(hours=73)),
        ga4_purchase("9003"),
        ga4_purchase("9001", tenant="someone-else"),  # another tenant's GA4: not ours
    ]
    save(store, rows)

    loaded = list(load_conversions(store, TENANT, settings(), NOW, page_size=2))

    by_ref = {row["order_ref"]: row for row in loaded}
    assert sorted(by_ref) == ["9001", "9002", "9003"]
    assert {ref: row["seen_by_ga4"] for ref, row in by_ref.items()} == {
        "9001": False,
        "9002": False,
        "9003": True,
    }
    assert [item["line_ref"] for item in by_ref["9002"]["items"]] == ["1", "2"]
    assert by_ref["9002"]["items"][0]["amount"] == Decimal("5.00")


def test_a_push_sends_what_ga4_missed_marks_it_and_the_next_push_sends_nothing(
    store: Store, fake: FakeMeasurementProtocol
) -> None:
    missed = [conversion(str(10_000 + n), client_id=f"1.{n % 2}") for n in range(30)]
    seen = conversion("10100")
    test_order = conversion("10200", is_test=True)
    save(store, [*missed, seen, test_order, ga4_purchase("10100"), ga4_purchase("99999")])
    dest = destination(fake)

    dry = dest.push(store, tenant=TENANT, dry_run=True)
    assert fake.requests == [] and sum(len(p["body"]["events"]) for p in dry.planned) == 30
    assert all(mp_link(store, row["id"]) is None for row in missed)

    first = dest.push(store, tenant=TENANT)

    assert sorted(fake.transactions()) == sorted(row["order_ref"] for row in missed)
    assert first.sent == 30
    # GA4's own purchases are left out in SQL, not counted
    assert first.skip_reasons == {"seen by GA4": 1, "test order": 1}
    for row in missed:
        link = mp_link(store, row["id"])
        assert link is not None, row["order_ref"]
        assert datetime.fromisoformat(link["sent_at"]) == NOW
        assert link["transaction_id"] == row["order_ref"] and link["value"] == "100.00"
    assert mp_link(store, seen["id"]) is None and mp_link(store, test_order["id"]) is None

    posted = len(fake.requests)
    second = dest.push(store, tenant=TENANT)
    assert len(fake.requests) == posted
    assert (second.sent, second.unchanged) == (0, 30)


def test_marks_survive_a_new_version_of_the_conversion(
    store: Store, fake: FakeMeasurementProtocol
) -> None:
    row = conversion("11001", extra={"note": "v1"})
    save(store, [row, ga4_purchase("other")])
    dest = destination(fake)
    dest.push(store, tenant=TENANT)
    link = mp_link(store, row["id"])
    assert link is not None

    newer = conversion(
        "11001", source_updated_at=NOW - timedelta(hours=2), status="approved", extra={"note": "v2"}
    )
    save(store, [newer])

    assert mp_link(store, row["id"]) == link
    again = dest.push(store, tenant=TENANT)
    assert (again.sent, again.unchanged) == (0, 1)
    assert fake.transactions() == ["11001"]


def test_validation_mode_and_refused_events_mark_nothing(
    store: Store, fake: FakeMeasurementProtocol
) -> None:
    rows = [conversion("12001"), conversion("12002")]
    save(store, [*rows, ga4_purchase("other")])
    fake.refuse["12002"] = [_message("params.items", "bad item", "VALUE_INVALID")]

    checked = destination(fake, validate_only=True).push(store, tenant=TENANT)
    assert (checked.validated, checked.failed) == (1, 1)
    assert all(mp_link(store, row["id"]) is None for row in rows)

    sent = destination(fake).push(store, tenant=TENANT)
    assert (sent.sent, sent.failed) == (1, 1)
    assert mp_link(store, rows[0]["id"]) is not None and mp_link(store, rows[1]["id"]) is None

    fake.refuse.clear()
    retried = destination(fake).push(store, tenant=TENANT)
    assert (retried.sent, retried.unchanged) == (1, 1)
    assert mp_link(store, rows[1]["id"]) is not None


def test_a_push_refuses_to_send_before_ga4_is_synced(
    store: Store, fake: FakeMeasurementProtocol
) -> None:
    save(store, [conversion("13001"), ga4_purchase("13001", tenant="someone-else")])

    with pytest.raises(FatalConnectorError) as caught:
        destination(fake).push(store, tenant=TENANT)
    assert fake.requests == []
    assert caught.value.hint is not None and "hub sync" in caught.value.hint

    dry = destination(fake).push(store, tenant=TENANT, dry_run=True)
    assert dry.warnings and "counted twice" in dry.summary()
    assert len(dry.planned) == 1

    unchecked = destination(fake, seen_sources=()).push(store, tenant=TENANT)
    assert unchecked.sent == 1


def test_push_with_given_rows_writes_them(fake: FakeMeasurementProtocol, tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        result = destination(fake).push(store, tenant=TENANT, rows=[conversion("14001")])
    finally:
        store.dispose()
    assert result.sent == 1 and fake.transactions() == ["14001"]


def test_rows_of_a_file_carry_their_times_as_iso_text(
    fake: FakeMeasurementProtocol, tmp_path: Any
) -> None:
    """``hub push ga4-measurement --input FILE``: times are text there, not datetimes."""
    row = conversion("14002")
    row["occurred_at"] = row["occurred_at"].isoformat()
    store = Store(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        result = destination(fake).push(store, tenant=TENANT, rows=[row])
    finally:
        store.dispose()
    assert result.skip_reasons == {} and fake.transactions() == ["14002"]


# -- settings --------------------------------------------------------------------------------


def test_the_measurement_id_is_checked_and_the_secret_hidden() -> None:
    assert settings(measurement_id=" G-ABC123XYZ ").measurement_id == "G-ABC123XYZ"
    for wrong in ("409876543", "UA-1234-1", "g-abc123"):
        with pytest.raises(ValidationError, match="measurement id"):
            settings(measurement_id=wrong)
    with pytest.raises(ValidationError, match="api_secret"):
        settings(api_secret="short")
    assert SECRET not in repr(settings())


def test_the_ga4_source_config_is_accepted_but_unknown_keys_are_not() -> None:
    reused = settings(
        property_id="properties/409876543",
        access_token="ya29.fake-access-token",
        start_date="2025-03-01",
        timezone="Europe/Vienna",
        lookback_days=3,
    )
    assert reused.property_id == 409876543 and reused.mp_base_url == BASE_URL
    assert settings().property_id is None and settings().start_date is None
    with pytest.raises(ValidationError, match=r"unknown_option|extra"):
        settings(unknown_option=1)
    with pytest.raises(ValidationError, match="api_secret"):
        GA4MeasurementSettings(measurement_id=MEASUREMENT_ID)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 26}, "batch_size"),
        ({"max_age_hours": 73}, "max_age_hours"),
        ({"settle_hours": 72}, "settle_hours"),
        ({"sources": ("ga4", "shopify")}, "seen_sources"),
    ],
)
def test_limits_of_the_protocol_are_enforced_in_settings(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**options)


def test_waiting_events_are_sent_early_when_many_wait_and_each_once(
    fake: FakeMeasurementProtocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.ga4.measurement.PENDING_LIMIT", 5)
    rows = [conversion(str(50_000 + n), client_id=f"7.{n % 3}") for n in range(20)]

    result = destination(fake).write(rows)

    bodies = fake.collected()
    assert len(bodies) > 3  # without the limit: one request per client id
    assert all(
        len({e["params"]["transaction_id"] for e in b["events"]}) == len(b["events"])
        for b in bodies
    )
    assert all(
        b["client_id"] == f"7.{(int(e['params']['transaction_id']) - 50_000) % 3}"
        for b in bodies
        for e in b["events"]
    )
    assert sorted(fake.transactions()) == sorted(row["order_ref"] for row in rows)
    assert result.sent == 20
