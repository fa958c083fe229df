"""The ``awin-conversions`` destination against a fake of Awin's Conversion API.

The fake answers ``POST /s2s/advertiser/{id}/orders`` as apis.md 2.6 describes
it: ``x-api-key`` auth (401 with Awin's ``{"error", "description"}`` body
otherwise), at most 1000 orders a call, 202 when every order is accepted and
206 with ``failedOrders: [{"order", "errors": [{"field", "message"}]}]`` when
some are refused (the response bodies are [B], from third-party code).

Expected amounts are computed here independently of the code under test: by
hand for the fixed examples, with exact fractions for the random carts.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import event, select

from connectors.awin.client import RATE_LIMIT_WAIT
from connectors.awin.conversion_api import (
    AwinConversionDestination,
    AwinConversionSettings,
    load_conversions,
    net_line,
    order_from_conversion,
)
from hub.errors import AuthError, FatalConnectorError, RecordError
from hub.schema import ConversionItemRow, ConversionRow, make_id
from hub.store import LINKS_KEY, Store
from hub.testing.leaks import capture_raw_logs, find_leaks

KEY = "awin-s2s-key-5c1f8e2d9a7b4c3e"
ADVERTISER = 15880
BASE_URL = "https://awin.test"
ORDERS_PATH = f"/s2s/advertiser/{ADVERTISER}/orders"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
TENANT = "alpenglueck"


# -- the fake Conversion API -----------------------------------------------------------------


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


class FakeConversionApi:
    """Awin's Conversion API for one advertiser, in memory.

    ``refuse`` maps an order reference to the ``errors`` Awin gives for it (a
    206); ``script`` holds responses answered first, in order, before the
    normal behaviour (a 429, a lost body ...).
    """

    def __init__(self, key: str = KEY, prefix: str = "") -> None:
        self.key = key
        self.path = f"{prefix}{ORDERS_PATH}"
        self.requests: list[httpx.Request] = []
        self.refuse: dict[str, list[dict[str, str]]] = {}
        self.script: list[httpx.Response] = []
        self.echo_key_on_401 = False
        self.batches = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def references(self) -> list[str]:
        return [order["orderReference"] for body in self.bodies() for order in body["orders"]]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            return self.script.pop(0)
        sent_key = request.headers.get("x-api-key")
        if sent_key != self.key:
            description = "Full authentication is required to access this resource"
            if self.echo_key_on_401:  # a careless server: the message must still hide it
                description = f"API key {sent_key} is not valid for advertiser {ADVERTISER}"
            return _json(401, {"error": "unauthorized", "description": description})
        if request.method != "POST" or request.url.path != self.path:
            return _json(404, {"error": "exception", "description": "Not Found"})
        orders = json.loads(request.content)["orders"]
        if not 1 <= len(orders) <= 1000:
            return _json(400, {"error": "exception", "description": "1 to 1000 orders"})
        self.batches += 1
        batch_id = f"b-{self.batches:04d}"
        accepted = [
            {"orderReference": o["orderReference"], "correlationId": f"c-{o['orderReference']}"}
            for o in orders
            if o["orderReference"] not in self.refuse
        ]
        failed = [
            {"order": o, "errors": self.refuse[o["orderReference"]]}
            for o in orders
            if o["orderReference"] in self.refuse
        ]
        body = {"batchId": batch_id, "successfulOrders": accepted, "failedOrders": failed}
        return _json(206 if failed else 202, body)


# -- canonical rows --------------------------------------------------------------------------


def awc(seed: str, advertiser: int | str = ADVERTISER) -> str:
    """An Awin click id: ``{advertiser}_{click time}_{32 hex}`` (apis.md 2.6)."""
    return f"{advertiser}_{1741964712 + len(seed)}_{hashlib.sha256(seed.encode()).hexdigest()[:32]}"


def line(line_ref: str, amount: str | None, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    """The item-specific fields of one conversion_item."""
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
    **fields: Any,
) -> dict[str, Any]:
    """A validated canonical conversion with its ``items`` (as load_conversions yields it)."""
    conversion_id = make_id(tenant, source, "conversion", external_id)
    currency = fields.get("currency", "EUR")
    values: dict[str, Any] = {
        "id": conversion_id,
        "tenant": tenant,
        "source": source,
        "connection": f"{source}-main",
        "external_id": external_id,
        "source_updated_at": NOW - timedelta(days=1),
        "synced_at": NOW - timedelta(hours=1),
        "order_ref": external_id,
        "occurred_at": NOW - timedelta(days=1),
        "status": "pending",
        "amount": Decimal("121.00"),
        "currency": currency,
        "click_ref": awc(external_id),
        **fields,
    }
    row = ConversionRow(**values).model_dump()
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


def settings(**options: Any) -> AwinConversionSettings:
    values: dict[str, Any] = {
        "account_type": "advertiser",
        "account_id": ADVERTISER,
        "s2s_api_key": KEY,
        "base_url": BASE_URL,
        **options,
    }
    return AwinConversionSettings(**values)


def destination(
    fake: FakeConversionApi, sleeps: list[float] | None = None, **options: Any
) -> AwinConversionDestination:
    return AwinConversionDestination(
        settings(**options),
        transport=fake.transport(),
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: NOW,
    )


def money(value: float) -> Decimal:
    """A JSON amount as the exact decimal it denotes (the float's shortest text)."""
    return Decimal(repr(value))


@pytest.fixture
def fake() -> FakeConversionApi:
    return FakeConversionApi()


# -- net_line --------------------------------------------------------------------------------


def test_a_line_is_its_amount_after_discounts() -> None:
    item = line("1", "89.90", 1, unit_price=Decimal("99.90"), discount=Decimal("10.00"))
    assert net_line(item, taxes_included=False) == (1, Decimal("89.90"))


def test_a_line_without_amount_is_unit_price_times_quantity() -> None:
    item = line("1", None, 3, unit_price=Decimal("12.45"))
    assert net_line(item, taxes_included=False) == (3, Decimal("37.35"))


def test_included_tax_is_taken_out_only_when_the_source_says_prices_include_it() -> None:
    item = line(
        "1",
        "119.00",
        1,
        extra={"tax_lines": [{"title": "MwSt", "price": "19.00"}, {"price": "0.95"}]},
    )
    assert net_line(item, taxes_included=True) == (1, Decimal("99.05"))
    assert net_line(item, taxes_included=False) == (1, Decimal("119.00"))
    assert net_line(line("2", "50.00"), taxes_included=True) == (1, Decimal("50.00"))


def test_refunded_units_take_their_share_rounded_half_up_to_cents() -> None:
    assert net_line(line("1", "100.00", 3, refunded_quantity=1), False) == (2, Decimal("66.67"))
    assert net_line(line("1", "100.00", 3, refunded_quantity=2), False) == (1, Decimal("33.33"))
    # 0.05 * 1/2 = 0.025: half up gives 0.03 (banker's rounding would give 0.02)
    assert net_line(line("1", "0.05", 2, refunded_quantity=1), False) == (1, Decimal("0.03"))
    assert net_line(line("1", "100.00", 3, refunded_quantity=3), False) == (0, Decimal("0.00"))


def test_zero_quantity_lines_count_nothing() -> None:
    assert net_line(line("1", "10.00", 0), False) == (0, Decimal(0))


def test_an_unreadable_quantity_or_amount_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="item 7: quantity"):
        net_line({"line_ref": "7", "quantity": "two", "amount": "1.00"}, False, "order 1")
    with pytest.raises(RecordError, match="item 7: amount"):
        net_line({"line_ref": "7", "quantity": 1, "amount": "n/a"}, False, "order 1")


# -- order_from_conversion -------------------------------------------------------------------


def test_the_order_body_of_a_shopify_style_conversion() -> None:
    row = conversion(
        "2042",
        [
            line(
                "9100000000001",
                "109.00",
                1,
                title="Tagesrucksack Alpsee 28 l",
                sku="ALP-RUCK-28-BLU",
                category="Rucksäcke",
                unit_price=Decimal("119.00"),
                discount=Decimal("10.00"),
                extra={"tax_lines": [{"price": "7.39", "rate": 0.081}]},
            ),
            line(
                "9100000000002",
                "39.80",
                2,
                refunded_quantity=1,
                title="Trinkflasche 0,75 l",
                category="ZUBEHÖR",
                extra={"tax_lines": [{"price": "2.98"}]},
            ),
            line("9100000000003", "15.00", 0, title="Removed before payment"),
        ],
        currency="CHF",
        voucher_codes=["SPRING10", "EXTRA5"],
        customer_type="new",
        extra={"taxes_included": True},
    )
    order = order_from_conversion(row, row["items"], settings(category_groups={"Zubehör": "ACC"}))

    # 109.00 - 7.39 = 101.61; (39.80 - 2.98) * 1/2 = 18.41
    assert order.amount == Decimal("120.02")
    assert order.conversion_id == row["id"] and order.reference == "2042"
    assert order.body == {
        "orderReference": "2042",
        "amount": 120.02,
        "channel": "aw",
        "currency": "CHF",
        "awc": awc("2042"),
        "voucher": "SPRING10",
        "customerAcquisition": "NEW",
        "commissionGroups": [
            {"code": "DEFAULT", "amount": 101.61},
            {"code": "ACC", "amount": 18.41},
        ],
        "basket": [
            {
                "id": "9100000000001",
                "name": "Tagesrucksack Alpsee 28 l",
                "price": 101.61,
                "quantity": 1,
                "sku": "ALP-RUCK-28-BLU",
                "category": "Rucksäcke",
                "commissionGroupCode": "DEFAULT",
            },
            {
                "id": "9100000000002",
                "name": "Trinkflasche 0,75 l",
                "price": 18.41,
                "quantity": 1,
                "category": "ZUBEHÖR",
                "commissionGroupCode": "ACC",
            },
        ],
        "custom": {"1": "shopify"},
    }


def test_basket_prices_are_per_unit_and_optional_fields_appear_only_when_present() -> None:
    row = conversion(
        "3001",
        [
            line("a", "100.00", 3, title="Socken 3er", sku=None, category=None),
            line("b", "20.00", 1, title="Karte", sku="", category=""),
        ],
    )
    body = order_from_conversion(row, row["items"], settings(send_basket=True)).body
    assert body["basket"] == [
        {
            "id": "a",
            "name": "Socken 3er",
            "price": 33.33,
            "quantity": 3,
            "commissionGroupCode": "DEFAULT",
        },
        {
            "id": "b",
            "name": "Karte",
            "price": 20.0,
            "quantity": 1,
            "commissionGroupCode": "DEFAULT",
        },
    ]
    # the parts are the line amounts, not price x quantity
    assert body["commissionGroups"] == [{"code": "DEFAULT", "amount": 120.0}]
    assert body["amount"] == 120.0
    no_basket = order_from_conversion(row, row["items"], settings(send_basket=False)).body
    assert "basket" not in no_basket and no_basket["amount"] == 120.0


def test_groups_follow_the_category_case_insensitively_else_the_default_group() -> None:
    row = conversion(
        "3002",
        [
            line("1", "10.00", category="schuhe"),
            line("2", "20.00", category="SCHUHE"),
            line("3", "30.00", category="Zelte"),
            line("4", "40.00", category=None),
        ],
    )
    config = settings(category_groups={"Schuhe": "SHOES"}, commission_group="STD")
    body = order_from_conversion(row, row["items"], config).body
    assert sorted((g["code"], money(g["amount"])) for g in body["commissionGroups"]) == [
        ("SHOES", Decimal("30.00")),
        ("STD", Decimal("70.00")),
    ]
    assert [p["commissionGroupCode"] for p in body["basket"]] == ["SHOES", "SHOES", "STD", "STD"]


def test_voucher_acquisition_and_custom_fields() -> None:
    plain = conversion("3003", voucher_codes=[], customer_type="unknown", source="woo")
    body = order_from_conversion(plain, plain["items"], settings()).body
    assert "voucher" not in body and "customerAcquisition" not in body
    assert body["custom"] == {"1": "woo"}
    assert body["channel"] == "aw"

    returning = conversion("3004", voucher_codes=["", "WELCOME"], customer_type="returning")
    body = order_from_conversion(returning, returning["items"], settings(channel="cashback")).body
    assert body["voucher"] == "WELCOME"
    assert body["customerAcquisition"] == "RETURNING"
    assert body["channel"] == "cashback"


def _round_half_up(value: Fraction) -> Decimal:
    """``value`` (>= 0) to cents, halves up, exactly."""
    cents = math.floor(value * 100 + Fraction(1, 2))
    return Decimal(cents).scaleb(-2)


def _cents(rand: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rand.randint(low, high)).scaleb(-2)


def test_parts_add_up_exactly_to_the_amount_over_many_random_carts() -> None:
    rand = random.Random(20250501)
    categories = ["Rucksäcke", "RUCKSÄCKE", "zubehör", "Zubehör", "Schuhe", "Zelte", None, ""]
    groups_by_category = {"rucksäcke": "BAGS", "zubehör": "ACC", "schuhe": "SHOES"}
    config = settings(category_groups={"Rucksäcke": "BAGS", "ZUBEHÖR": "ACC", "schuhe": "SHOES"})
    checked_lines = 0
    for cart in range(400):
        taxes_included = rand.random() < 0.5
        lines = []
        expected_groups: dict[str, Decimal] = {}
        expected_basket = []
        for n in range(rand.randint(1, 6)):
            quantity = rand.choice([0, 1, 1, 1, 2, 3, 4, 7])
            refunded = rand.randint(0, quantity) if rand.random() < 0.3 else 0
            unit = _cents(rand, 1, 50_000)
            gross = unit * quantity
            discount = _cents(rand, 0, int(gross * 100) // 3) if rand.random() < 0.4 else Decimal(0)
            after_discount = gross - discount
            taxes = [
                _cents(rand, 0, int(after_discount * 20) + 1) for _ in range(rand.randint(0, 2))
            ]
            category = rand.choice(categories)
            given_amount = after_discount if rand.random() < 0.9 else None  # else unit x quantity
            lines.append(
                line(
                    f"L{n}",
                    None if given_amount is None else str(given_amount),
                    quantity,
                    refunded_quantity=refunded,
                    unit_price=unit,
                    discount=discount,
                    category=category,
                    title=f"Item {n}",
                    extra={"tax_lines": [{"price": str(t)} for t in taxes]},
                )
            )
            kept = quantity - refunded
            if quantity == 0 or kept == 0:
                continue
            net = Fraction(gross if given_amount is None else given_amount)
            if taxes_included:
                net -= sum((Fraction(t) for t in taxes), Fraction(0))
            share = max(net * kept / quantity, Fraction(0))
            line_amount = _round_half_up(share)
            code = groups_by_category.get((category or "").casefold(), "DEFAULT")
            expected_groups[code] = expected_groups.get(code, Decimal(0)) + line_amount
            expected_basket.append((f"L{n}", kept, _round_half_up(Fraction(line_amount) / kept)))
        row = conversion(f"R{cart}", lines, extra={"taxes_included": taxes_included})
        checked_lines += len(lines)

        order = order_from_conversion(row, row["items"], config)

        body = order.body
        parts = {g["code"]: money(g["amount"]) for g in body["commissionGroups"]}
        assert len(parts) == len(body["commissionGroups"]), f"cart {cart}: a group twice"
        assert parts == expected_groups, f"cart {cart}"
        assert money(body["amount"]) == sum(parts.values(), Decimal(0)), f"cart {cart}"
        assert order.amount == sum(expected_groups.values(), Decimal(0)), f"cart {cart}"
        assert [(p["id"], p["quantity"], money(p["price"])) for p in body.get("basket", [])] == (
            expected_basket
        ), f"cart {cart}"
    assert checked_lines > 1000


def test_total_mode_is_the_amount_minus_refunds_in_one_group() -> None:
    config = settings(amount="total", commission_group="ALL")
    row = conversion("4001", [], amount=Decimal("120.50"), refunded_amount=Decimal("20.25"))
    order = order_from_conversion(row, [], config)
    assert order.amount == Decimal("100.25")
    assert order.body["amount"] == 100.25
    assert order.body["commissionGroups"] == [{"code": "ALL", "amount": 100.25}]
    assert "basket" not in order.body

    unrefunded = conversion("4002", [], amount=Decimal("99.99"), refunded_amount=None)
    assert order_from_conversion(unrefunded, [], config).body["amount"] == 99.99
    over = conversion("4003", [], amount=Decimal("10.00"), refunded_amount=Decimal("12.00"))
    assert order_from_conversion(over, [], config).body["amount"] == 0.0


@pytest.mark.parametrize(
    ("fields", "lines", "message"),
    [
        ({"order_ref": None}, None, "has no order_ref"),
        ({"order_ref": "   "}, None, "has no order_ref"),
        ({"order_ref": "X" * 51}, None, "longer than 50 characters"),
        ({}, [], "has no items"),
    ],
    ids=["no order_ref", "blank order_ref", "51 characters", "no items"],
)
def test_orders_that_cannot_be_built_are_record_errors(
    fields: dict[str, Any], lines: list[dict[str, Any]] | None, message: str
) -> None:
    row = conversion("5001", lines, **fields)
    with pytest.raises(RecordError, match=message) as caught:
        order_from_conversion(row, row["items"], settings())
    assert row["id"] in str(caught.value)


def test_an_order_ref_of_exactly_50_characters_is_kept() -> None:
    row = conversion("5002", order_ref="R" * 50)
    assert order_from_conversion(row, row["items"], settings()).reference == "R" * 50


def test_no_items_points_at_total_mode() -> None:
    row = conversion("5003", [])
    with pytest.raises(RecordError) as caught:
        order_from_conversion(row, [], settings())
    assert caught.value.hint is not None and "amount: total" in caught.value.hint


# -- write: what is sent ---------------------------------------------------------------------


def test_only_eligible_conversions_are_sent_and_the_others_are_counted_by_reason(
    fake: FakeConversionApi,
) -> None:
    cutoff = NOW - timedelta(days=30)
    rows = [
        conversion("6001"),
        conversion("6002", occurred_at=cutoff),  # exactly max_age_days: still sent
        conversion("6003", source="awin"),
        conversion("6004", click_ref=awc("6004", advertiser=15881)),
        conversion("6005", click_ref=awc("6005", advertiser=158800)),
        conversion("6006", click_ref="15880_1741964712_not-a-checksum"),
        conversion("6007", click_ref=None),
        conversion("6008", is_test=True),
        conversion("6009", status="declined"),
        conversion("6010", status="cancelled"),
        conversion("6011", occurred_at=cutoff - timedelta(seconds=1)),
        conversion("6012", status="approved"),
    ]

    result = destination(fake).write(rows)

    assert sorted(fake.references()) == ["6001", "6002", "6012"]
    assert (result.sent, result.unchanged, result.failed, result.skipped) == (3, 0, 0, 9)
    assert result.skip_reasons == {
        "an Awin transaction": 1,
        f"no awc of advertiser {ADVERTISER}": 4,
        "test order": 1,
        "status declined": 1,
        "status cancelled": 1,
        "older than 30 days": 1,
    }
    summary = result.summary()
    assert "3 sent, 0 unchanged, 9 skipped" in summary
    assert "status declined: 1" in summary


def test_the_statuses_and_age_are_settings(fake: FakeConversionApi) -> None:
    rows = [
        conversion("6101", status="pending"),
        conversion("6102", status="approved", occurred_at=NOW - timedelta(days=40)),
    ]
    result = destination(fake, statuses=("approved",), max_age_days=60).write(rows)
    assert fake.references() == ["6102"]
    assert result.skip_reasons == {"status pending": 1}


def test_conversions_already_sent_to_this_advertiser_are_unchanged(
    fake: FakeConversionApi,
) -> None:
    link = {"batch_id": "b-1", "correlation_id": "c-1", "sent_at": "2025-04-30T12:00:00+00:00"}
    sent = conversion("6201", extra={LINKS_KEY: {"awin_s2s": {str(ADVERTISER): link}}})
    other_advertiser = conversion("6202", extra={LINKS_KEY: {"awin_s2s": {"99999": link}}})
    other_system = conversion("6203", extra={LINKS_KEY: {"shopify": {"x": 1}}})

    result = destination(fake).write([sent, other_advertiser, other_system])

    assert sorted(fake.references()) == ["6202", "6203"]
    assert (result.sent, result.unchanged, result.skipped) == (2, 1, 0)


def test_a_second_conversion_with_the_same_order_ref_fails_and_the_first_is_sent(
    fake: FakeConversionApi,
) -> None:
    first = conversion("6301", order_ref="A-1")
    twin = conversion("6302", order_ref="A-1", source="woo")
    other = conversion("6303")

    result = destination(fake).write([first, twin, other])

    assert fake.references() == ["A-1", "6303"]
    assert (result.sent, result.failed) == (2, 1)
    assert set(result.links) == {first["id"], other["id"]}
    (error,) = result.errors
    assert twin["id"] in error and "'A-1'" in error


def test_a_conversion_that_cannot_become_an_order_fails_alone(fake: FakeConversionApi) -> None:
    bad = conversion("6401", order_ref="Z" * 51)
    good = conversion("6402")
    result = destination(fake).write([bad, good])
    assert fake.references() == ["6402"]
    assert (result.sent, result.failed) == (1, 1)
    assert "longer than 50" in result.errors[0] and bad["id"] in result.errors[0]


def test_orders_go_in_batches_of_batch_size(fake: FakeConversionApi) -> None:
    rows = [conversion(str(10_000 + n)) for n in range(2500)]

    result = destination(fake, batch_size=1000).write(rows)

    assert [len(body["orders"]) for body in fake.bodies()] == [1000, 1000, 500]
    assert sorted(fake.references()) == sorted(row["order_ref"] for row in rows)
    assert result.sent == 2500 and len(result.links) == 2500
    assert {link["batch_id"] for link in result.links.values()} == {"b-0001", "b-0002", "b-0003"}


def test_a_small_batch_size_is_honoured_across_skipped_rows(fake: FakeConversionApi) -> None:
    rows = [conversion(str(20_000 + n), is_test=n % 3 == 0) for n in range(10)]
    result = destination(fake, batch_size=2).write(rows)
    assert [len(body["orders"]) for body in fake.bodies()] == [2, 2, 2]
    assert (result.sent, result.skipped) == (6, 4)


def test_the_request_headers_and_body(fake: FakeConversionApi) -> None:
    row = conversion(
        "2042",
        [line("9100000000001", "101.61", 1, title="Tagesrucksack", sku="ALP-28")],
        currency="CHF",
        voucher_codes=["SPRING10"],
        customer_type="new",
    )

    destination(fake).write([row])

    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}{ORDERS_PATH}"
    assert request.headers["x-api-key"] == KEY
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert "accessToken" not in str(request.url) and KEY not in str(request.url)
    assert json.loads(request.content) == {
        "orders": [
            {
                "orderReference": "2042",
                "amount": 101.61,
                "channel": "aw",
                "currency": "CHF",
                "awc": awc("2042"),
                "voucher": "SPRING10",
                "customerAcquisition": "NEW",
                "commissionGroups": [{"code": "DEFAULT", "amount": 101.61}],
                "basket": [
                    {
                        "id": "9100000000001",
                        "name": "Tagesrucksack",
                        "price": 101.61,
                        "quantity": 1,
                        "sku": "ALP-28",
                        "commissionGroupCode": "DEFAULT",
                    }
                ],
                "custom": {"1": "shopify"},
            }
        ]
    }
    # amounts are plain JSON numbers with at most two decimals
    assert b'"amount":101.61' in request.content


def test_a_202_accepts_every_order_and_links_carry_awins_ids(fake: FakeConversionApi) -> None:
    rows = [conversion("7001"), conversion("7002", [line("1", "12.345")])]

    result = destination(fake).write(rows)

    assert (result.sent, result.failed, result.errors) == (2, 0, [])
    assert result.links == {
        rows[0]["id"]: {
            "batch_id": "b-0001",
            "correlation_id": "c-7001",
            "order_reference": "7001",
            "amount": "100.00",
        },
        rows[1]["id"]: {
            "batch_id": "b-0001",
            "correlation_id": "c-7002",
            "order_reference": "7002",
            "amount": "12.35",
        },
    }


def test_a_206_fails_the_refused_orders_with_awins_reasons_and_sends_the_others(
    fake: FakeConversionApi,
) -> None:
    fake.refuse["7102"] = [
        {"field": "currency", "message": "Currency XTS is not supported"},
        {"field": "amount", "message": "must be greater than 0"},
    ]
    fake.refuse["7103"] = []
    rows = [conversion("7101"), conversion("7102"), conversion("7103"), conversion("7104")]

    result = destination(fake).write(rows)

    assert (result.sent, result.failed) == (2, 2)
    assert set(result.links) == {rows[0]["id"], rows[3]["id"]}
    assert result.errors == [
        f"conversion {rows[1]['id']} (order 7102): Awin refused it: currency: Currency XTS "
        "is not supported; amount: must be greater than 0",
        f"conversion {rows[2]['id']} (order 7103): Awin refused it: no reason given",
    ]
    assert "Currency XTS is not supported" in result.summary()


def test_a_dry_run_sends_nothing_and_plans_what_a_real_run_sends(
    fake: FakeConversionApi,
) -> None:
    rows = [conversion("7201", voucher_codes=["A"]), conversion("7202"), conversion("7203")]
    base_url = f"{BASE_URL}/proxy"

    dry = destination(fake, batch_size=2, base_url=base_url).write(rows, dry_run=True)

    assert fake.requests == []
    assert (dry.sent, dry.links) == (0, {})
    assert [(p["method"], p["path"]) for p in dry.planned] == [
        ("POST", f"/proxy{ORDERS_PATH}"),
        ("POST", f"/proxy{ORDERS_PATH}"),
    ]
    summary = dry.summary()
    assert summary.splitlines()[0].startswith("Awin conversions (dry run, nothing sent): 3 to send")
    planned_orders = [json.loads(text) for text in summary.splitlines() if text.startswith("    {")]
    assert [order["orderReference"] for order in planned_orders] == ["7201", "7202", "7203"]

    real_fake = FakeConversionApi(prefix="/proxy")
    real = destination(real_fake, batch_size=2, base_url=base_url).write(rows)
    assert real.sent == 3
    assert [r.url.path for r in real_fake.requests] == [p["path"] for p in dry.planned]
    assert real_fake.bodies() == [p["body"] for p in dry.planned]
    assert [order for body in real_fake.bodies() for order in body["orders"]] == planned_orders


# -- write: errors ---------------------------------------------------------------------------


def test_a_refused_key_stops_at_once_with_a_hint_and_never_shows_the_key() -> None:
    fake = FakeConversionApi(key="the-key-awin-expects-1234")
    fake.echo_key_on_401 = True
    sleeps: list[float] = []
    with capture_raw_logs() as logs, pytest.raises(AuthError) as caught:
        destination(fake, sleeps).write([conversion("8001")])

    assert len(fake.requests) == 1 and sleeps == []
    assert fake.requests[0].headers["x-api-key"] == KEY  # it really was sent ...
    text = str(caught.value)
    assert "401" in text and ORDERS_PATH in text
    assert caught.value.hint is not None and "s2s_api_key" in caught.value.hint
    assert find_leaks([KEY], {"error": text, "hint": caught.value.hint, "logs": logs}) == []


def test_the_key_is_in_no_result_summary_or_log(fake: FakeConversionApi) -> None:
    fake.refuse["8102"] = [{"field": "awc", "message": "unknown click"}]
    rows = [conversion("8101"), conversion("8102"), conversion("8103", order_ref="Q" * 60)]
    with capture_raw_logs() as logs:
        dest = destination(fake)
        result = dest.write(rows)
        dry = dest.write(rows, dry_run=True)
    places = {
        "summary": result.summary(),
        "dry summary": dry.summary(),
        "errors": result.errors,
        "links": result.links,
        "planned": dry.planned,
        "logs": logs,
        "repr": repr(dest.config),
    }
    assert find_leaks([KEY], places) == []
    assert result.failed == 2  # the places above hold real errors, not empty text


def test_a_429_is_waited_out_and_the_same_batch_sent_again(fake: FakeConversionApi) -> None:
    fake.script = [_json(429, {"error": "too many requests"})]
    sleeps: list[float] = []

    result = destination(fake, sleeps).write([conversion("8201"), conversion("8202")])

    assert sleeps == [RATE_LIMIT_WAIT]
    assert len(fake.requests) == 2
    assert fake.requests[0].content == fake.requests[1].content
    assert (result.sent, result.failed) == (2, 0)


def test_a_429_with_retry_after_waits_that_long(fake: FakeConversionApi) -> None:
    fake.script = [httpx.Response(429, headers={"Retry-After": "7"})]
    sleeps: list[float] = []
    result = destination(fake, sleeps).write([conversion("8301")])
    assert sleeps == [7.0] and result.sent == 1


def test_a_refused_batch_stops_the_run_with_a_hint(fake: FakeConversionApi) -> None:
    fake.script = [_json(400, {"error": "exception", "description": "Bad Request"})]
    with pytest.raises(FatalConnectorError) as caught:
        destination(fake).write([conversion("8401")])
    assert caught.value.hint is not None and "batch_size" in caught.value.hint


def test_a_202_without_a_body_counts_the_orders_sent(fake: FakeConversionApi) -> None:
    fake.script = [httpx.Response(202) for _ in range(10)]  # Awin answers 202 with no body
    result = destination(fake).write([conversion("8501")])
    assert len(fake.requests) == 1
    assert result.sent == 1


# -- push with a store -----------------------------------------------------------------------


def save(store: Store, rows: list[dict[str, Any]]) -> None:
    """Upsert conversions and their items as a sync would."""
    conversions = [{k: v for k, v in row.items() if k != "items"} for row in rows]
    items = [item for row in rows for item in row["items"]]
    with store.transaction() as connection:
        store.upsert(connection, "conversion", conversions)
        if items:
            store.upsert(connection, "conversion_item", items)


def stored_extra(store: Store, conversion_id: str) -> dict[str, Any]:
    table = store.table("conversion")
    with store.transaction() as connection:
        extra = connection.execute(select(table.c.extra).where(table.c.id == conversion_id))
        return dict(extra.scalar_one() or {})


def awin_link(store: Store, conversion_id: str) -> dict[str, Any] | None:
    links = stored_extra(store, conversion_id).get(LINKS_KEY) or {}
    found: dict[str, Any] | None = (links.get("awin_s2s") or {}).get(str(ADVERTISER))
    return found


def test_load_conversions_narrows_in_sql(store: Store) -> None:
    cutoff = NOW - timedelta(days=30)
    wanted = [
        conversion("9001"),
        conversion("9002", occurred_at=cutoff),
        conversion("9003", [line("1", "5.00"), line("2", "6.00")]),
    ]
    unwanted = [
        conversion("9101", tenant="someone-else"),
        conversion("9102", source="awin"),
        # without the escaped "_", LIKE '15880_%' would match '158800_...'
        conversion("9103", click_ref=awc("9103", advertiser=158800)),
        conversion("9104", click_ref=awc("9104", advertiser=15881)),
        conversion("9105", click_ref=None),
        conversion("9106", occurred_at=cutoff - timedelta(seconds=1)),
        conversion("9107", click_ref="x15880_1741964712_" + "a" * 32),
    ]
    save(store, wanted + unwanted)

    loaded = list(load_conversions(store, TENANT, settings(), NOW))

    assert sorted(row["order_ref"] for row in loaded) == ["9001", "9002", "9003"]
    by_ref = {row["order_ref"]: row for row in loaded}
    assert [item["line_ref"] for item in by_ref["9003"]["items"]] == ["1", "2"]
    assert {item["conversion_id"] for item in by_ref["9003"]["items"]} == {by_ref["9003"]["id"]}
    assert by_ref["9003"]["items"][0]["amount"] == Decimal("5.00")


def test_the_underscore_of_the_prefix_is_escaped_for_a_shorter_advertiser(store: Store) -> None:
    # Advertiser 1588: '1588_%' unescaped would also match '15880_...' ('_' = any character)
    save(store, [conversion("9201"), conversion("9202", click_ref=awc("9202", advertiser=1588))])
    loaded = list(load_conversions(store, TENANT, settings(account_id=1588), NOW))
    assert [row["order_ref"] for row in loaded] == ["9202"]


@pytest.mark.parametrize("count", [23, 20])
def test_load_conversions_reads_in_pages_and_yields_each_row_once(store: Store, count: int) -> None:
    rows = [
        conversion(str(30_000 + n), [line(str(k), "1.00") for k in range(n % 3)])
        for n in range(count)
    ]
    save(store, rows)
    pages: list[str] = []

    def count_pages(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM conversion " in statement or "FROM conversion\n" in statement:
            pages.append(statement)

    event.listen(store.engine, "before_cursor_execute", count_pages)
    try:
        loaded = list(load_conversions(store, TENANT, settings(batch_size=5), NOW))
    finally:
        event.remove(store.engine, "before_cursor_execute", count_pages)

    assert sorted(row["id"] for row in loaded) == sorted(row["id"] for row in rows)
    assert len(pages) >= math.ceil(count / 5)
    expected_items = {row["id"]: len(row["items"]) for row in rows}
    assert {row["id"]: len(row["items"]) for row in loaded} == expected_items


def test_a_push_marks_what_awin_accepted_and_the_next_push_sends_nothing(
    store: Store, fake: FakeConversionApi
) -> None:
    rows = [conversion(str(40_000 + n)) for n in range(7)]
    rows.append(conversion("40100", is_test=True))
    save(store, rows)
    dest = destination(fake, batch_size=3)

    dry = dest.push(store, tenant=TENANT, dry_run=True)
    assert fake.requests == [] and len(dry.planned) == 3
    assert all(awin_link(store, row["id"]) is None for row in rows)

    first = dest.push(store, tenant=TENANT)

    assert (first.sent, first.skipped, len(fake.requests)) == (7, 1, 3)
    for row in rows[:7]:
        link = awin_link(store, row["id"])
        assert link is not None, row["order_ref"]
        assert link["correlation_id"] == f"c-{row['order_ref']}"
        assert link["batch_id"] in {"b-0001", "b-0002", "b-0003"}
        assert datetime.fromisoformat(link["sent_at"]) == NOW
    assert awin_link(store, rows[7]["id"]) is None

    second = dest.push(store, tenant=TENANT)

    assert len(fake.requests) == 3
    assert (second.sent, second.unchanged, second.skipped) == (0, 7, 1)


def test_marks_keep_the_links_of_other_systems_and_advertisers(
    store: Store, fake: FakeConversionApi
) -> None:
    others = {"awin_s2s": {"99999": {"batch_id": "old"}}, "shopify": {"shop": {"id": 1}}}
    row = conversion("41001", extra={"taxes_included": False, LINKS_KEY: others})
    save(store, [row])

    destination(fake).push(store, tenant=TENANT)

    extra = stored_extra(store, row["id"])
    assert extra["taxes_included"] is False
    assert extra[LINKS_KEY]["shopify"] == {"shop": {"id": 1}}
    assert set(extra[LINKS_KEY]["awin_s2s"]) == {"99999", str(ADVERTISER)}
    assert extra[LINKS_KEY]["awin_s2s"]["99999"] == {"batch_id": "old"}


def test_refused_orders_stay_unmarked_and_are_sent_again(
    store: Store, fake: FakeConversionApi
) -> None:
    rows = [conversion("42001"), conversion("42002")]
    save(store, rows)
    fake.refuse["42002"] = [{"field": "awc", "message": "click not found"}]
    dest = destination(fake)

    first = dest.push(store, tenant=TENANT)

    assert (first.sent, first.failed) == (1, 1)
    assert awin_link(store, rows[0]["id"]) is not None
    assert awin_link(store, rows[1]["id"]) is None

    fake.refuse.clear()
    second = dest.push(store, tenant=TENANT)

    assert (second.sent, second.unchanged) == (1, 1)
    assert fake.bodies()[-1]["orders"][0]["orderReference"] == "42002"
    assert awin_link(store, rows[1]["id"]) is not None


def test_marks_survive_a_new_version_of_the_conversion_from_its_source(
    store: Store, fake: FakeConversionApi
) -> None:
    row = conversion("43001", extra={"note": "v1"})
    save(store, [row])
    dest = destination(fake)
    dest.push(store, tenant=TENANT)
    link = awin_link(store, row["id"])
    assert link is not None

    newer = conversion(
        "43001",
        [line("1", "80.00")],
        source_updated_at=NOW - timedelta(hours=2),
        status="approved",
        extra={"note": "v2"},
    )
    save(store, [newer])

    extra = stored_extra(store, row["id"])
    assert extra["note"] == "v2"
    assert awin_link(store, row["id"]) == link
    again = dest.push(store, tenant=TENANT)
    assert (again.sent, again.unchanged, len(fake.requests)) == (0, 1, 1)


def test_a_failing_later_batch_keeps_the_marks_of_the_accepted_ones(
    store: Store, fake: FakeConversionApi
) -> None:
    rows = [conversion("44001"), conversion("44002"), conversion("44003")]
    save(store, rows)
    calls = 0

    def second_call_refused(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return _json(400, {"error": "exception", "description": "Bad Request"})
        return fake.handle(request)

    dest = AwinConversionDestination(
        settings(batch_size=2),
        transport=httpx.MockTransport(second_call_refused),
        sleep=lambda seconds: None,
        now=lambda: NOW,
    )
    with pytest.raises(FatalConnectorError):
        dest.push(store, tenant=TENANT)

    first_batch = fake.bodies()[0]["orders"]
    assert len(first_batch) == 2
    by_ref = {row["order_ref"]: row["id"] for row in rows}
    assert all(awin_link(store, by_ref[o["orderReference"]]) is not None for o in first_batch)


def test_push_with_given_rows_writes_them(fake: FakeConversionApi, tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        result = destination(fake).push(store, tenant=TENANT, rows=[conversion("45001")])
    finally:
        store.dispose()
    assert result.sent == 1 and fake.references() == ["45001"]


# -- settings --------------------------------------------------------------------------------


def test_a_publisher_account_is_refused() -> None:
    with pytest.raises(ValidationError, match="account_type must be advertiser"):
        settings(account_type="publisher")


def test_batch_size_is_at_most_1000() -> None:
    assert settings(batch_size=1000).batch_size == 1000
    with pytest.raises(ValidationError, match="batch_size"):
        settings(batch_size=1001)
    with pytest.raises(ValidationError, match="batch_size"):
        settings(batch_size=0)


def test_the_api_token_and_start_date_are_optional_but_the_s2s_key_is_not() -> None:
    config = settings()
    assert config.api_token is None and config.start_date is None
    reused = settings(api_token="awin-user-token-0123456789", start_date="2025-01-01")
    assert reused.api_token is not None
    with pytest.raises(ValidationError, match="s2s_api_key"):
        AwinConversionSettings(account_type="advertiser", account_id=ADVERTISER)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"unknown_option|extra"):
        settings(unknown_option=1)
    assert KEY not in repr(config)


def test_the_awc_pattern_is_anchored_to_the_advertiser() -> None:
    pattern = settings().awc_pattern
    assert pattern.match(awc("x"))
    assert not pattern.match(awc("x", advertiser=158800))
    assert not pattern.match(awc("x", advertiser=1588))
    assert not pattern.match(awc("x") + "0")
    assert not pattern.match("x" + awc("x"))
    assert not pattern.match(awc("x").upper())


def test_conversions_without_a_time_or_anything_left_are_skipped(fake: FakeConversionApi) -> None:
    refunded = conversion("9101", [line("1", "50.00", quantity=2, refunded_quantity=2)])
    timeless = conversion("9102", occurred_at=None)
    result = destination(fake).write([refunded, timeless, conversion("9103")])
    assert result.skip_reasons == {"nothing left to commission": 1, "no occurred_at": 1}
    assert result.sent == 1 and len(fake.requests) == 1


def test_an_items_own_commission_group_comes_before_the_category_mapping() -> None:
    row = conversion(
        "9201",
        [
            line("1", "30.00", category="Zubehör", commission_group="SALE"),
            line("2", "20.00", category="Zubehör"),
        ],
    )
    order = order_from_conversion(row, row["items"], settings(category_groups={"zubehör": "ACC"}))
    assert order.body["commissionGroups"] == [
        {"code": "SALE", "amount": 30.0},
        {"code": "ACC", "amount": 20.0},
    ]
