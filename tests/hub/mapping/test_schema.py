"""Property: rows mapped from realistic records validate against the canonical models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.mapping import CompiledMapping, Mappings
from hub.mapping.ids import fast_make_id
from hub.schema import ENTITIES, make_id

FILES = Path(__file__).parent / "mapping_files"
MAPPING: CompiledMapping = Mappings([FILES / "shop.yaml"]).compile("shop", "orders")

money = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=2).map(str),  # Shopify: text
    st.floats(min_value=0, max_value=10_000, allow_nan=False).map(lambda f: round(f, 2)),
    st.integers(min_value=0, max_value=10_000),
)
ZONES = [UTC, *(ZoneInfo(name) for name in ("Europe/Zurich", "America/New_York", "Asia/Kolkata"))]
instant = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2040, 1, 1),
    timezones=st.sampled_from(ZONES),
).map(lambda d: d.isoformat())
text = st.text(max_size=30)
maybe = st.none() | text


@st.composite
def line_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=0, max_value=4))
    return [
        {
            "id": 16200000000000 + index,
            "product_id": draw(st.none() | st.integers(min_value=1, max_value=2**53)),
            "variant_id": draw(st.none() | st.integers(min_value=1, max_value=2**53)),
            "sku": draw(st.none() | st.just("") | st.text(min_size=1, max_size=20)),
            "title": draw(maybe),
            "quantity": draw(st.integers(min_value=1, max_value=50)),
            "refunded": draw(st.none() | st.integers(min_value=0, max_value=3)),
            "price": draw(money),
            "discount_allocations": [
                {"amount": draw(money), "discount_application_index": 0}
                for _ in range(draw(st.integers(min_value=0, max_value=2)))
            ],
            "properties": draw(st.lists(st.fixed_dictionaries({"name": text, "value": text}))),
        }
        for index in range(count)
    ]


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(["EUR", "chf", "usd"]))
    attributes = draw(
        st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["awc", "partner", "partner_name", "gift"]), "value": text}
            ),
            max_size=4,
        )
    )
    return {
        "id": draw(st.integers(min_value=1, max_value=2**53)),
        "order_number": draw(st.integers(min_value=1000, max_value=10**7)),
        "created_at": draw(instant),
        "updated_at": draw(instant),
        "financial_status": draw(
            st.sampled_from(["paid", "pending", "authorized", "voided", "refunded", "expired"])
        ),
        "test": draw(st.booleans()),
        "currency": currency,
        "total_price": draw(money),
        "total_price_set": {"presentment_money": {"amount": draw(money), "currency_code": "CHF"}},
        "discount_codes": [{"code": draw(text), "amount": "1.00", "type": "percentage"}],
        "note_attributes": attributes,
        "landing_site": draw(st.none() | st.just("/p?awc=15880_1_ab&utm_source=awin")),
        "email": draw(st.sampled_from(["", "Lea@Example.ch", None])),
        "customer": draw(st.none() | st.fixed_dictionaries({"email": maybe})),
        "billing_address": draw(
            st.none() | st.fixed_dictionaries({"country_code": st.sampled_from(["at", "CH", None])})
        ),
        "shipping_address": {"country_code": "DE"},
        "source_name": draw(st.sampled_from(["web", "pos", "shopify_draft_order"])),
        "line_items": draw(line_items()),
        "refunds": [
            {"transactions": [{"kind": "refund", "status": "success", "amount": draw(money)}]}
        ],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders())
def test_mapped_rows_validate(record: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    result = MAPPING(record, tenant="acme", connection="eu-shop")
    assert result[0][0] == "conversion"
    for entity, row in result:
        model = ENTITIES[entity][0]
        validated = model.model_validate(row | {"synced_at": now})
        assert validated.id == make_id("acme", "shop", entity, row["external_id"])
        assert validated.tenant == "acme"
        for name, value in row.items():
            if isinstance(value, Decimal):
                assert getattr(validated, name) == value  # money stays exact


def test_a_documented_shopify_order() -> None:
    """The order example of the API reference, mapped and validated."""
    order = {
        "id": 6123400000042,
        "order_number": 2042,
        "created_at": "2025-03-14T16:20:05+01:00",
        "updated_at": "2025-03-14T16:21:40+01:00",
        "test": False,
        "financial_status": "paid",
        "currency": "EUR",
        "total_price": "122.90",
        "total_price_set": {"presentment_money": {"amount": "115.63", "currency_code": "CHF"}},
        "discount_codes": [{"code": "SPRING10", "amount": "11.29", "type": "percentage"}],
        "note_attributes": [
            {"name": "awc", "value": "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"},
            {"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"},
        ],
        "customer": {"id": 7788000000012, "email": "lea.zuercher@example.ch"},
        "line_items": [
            {
                "id": 16200000000421,
                "product_id": 9100000000001,
                "variant_id": 48100000000001,
                "sku": "ALP-RUCK-28-BLU",
                "title": "Tagesrucksack Alpsee 28 l",
                "quantity": 1,
                "price": "120.00",
                "discount_allocations": [{"amount": "12.00", "discount_application_index": 0}],
            }
        ],
        "refunds": [],
    }
    now = datetime.now(UTC)
    result = MAPPING(order, tenant="acme", connection="eu-shop")
    assert [entity for entity, _ in result] == ["conversion", "conversion_item", "sku"]
    validated = [ENTITIES[e][0].model_validate(r | {"synced_at": now}) for e, r in result]
    conversion, item, sku = validated
    assert conversion.order_ref == "2042"
    assert conversion.amount == Decimal("122.90") and conversion.currency == "EUR"
    assert conversion.presentment_amount == Decimal("115.63")
    assert conversion.refunded_amount == Decimal(0)
    assert conversion.click_ref == "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"
    assert conversion.status == "approved" and conversion.is_test is False
    assert conversion.extra["note_attributes"] == [
        {"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"}
    ]
    assert item.conversion_id == conversion.id
    assert item.discount == Decimal("12.00") and item.unit_price == Decimal("120.00")
    assert sku.external_id == "ALP-RUCK-28-BLU" and sku.variant_ref == "48100000000001"


@given(st.text(), st.text(), st.text(), st.text())
def test_fast_ids_equal_make_id(tenant: str, source: str, entity: str, external_id: str) -> None:
    assert fast_make_id(tenant, source, entity, external_id) == make_id(
        tenant, source, entity, external_id
    )
