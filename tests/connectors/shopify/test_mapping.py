"""mappings/shopify.yaml on realistic orders and products: every trap of apis.md §1.12.

Records go through the stream's preparation (``prepare_order`` /
``product_records``) and the compiled mapping, and every row must validate
against the canonical schema, as the runner does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.shopify import mapping_file
from connectors.shopify.converters import (
    CONVERTERS,
    shopify_customer_type,
    shopify_device,
    shopify_landing_param,
    shopify_line_amount,
    shopify_refunded_amount,
    shopify_variant_title,
    user_agent_device,
)
from connectors.shopify.settings import ShopifySettings
from connectors.shopify.streams import prepare_customer, prepare_order, product_records
from hub.errors import MappingFileError, RecordError
from hub.mapping import Mappings
from hub.mapping.converters import hash_value
from hub.schema import ENTITIES, make_id
from tests.connectors.shopify import samples
from tests.connectors.shopify.samples import SHOP, TOKEN, fresh

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAPPINGS = Mappings([mapping_file()], CONVERTERS)

Row = dict[str, Any]


def settings(**overrides: Any) -> ShopifySettings:
    raw = {"shop": SHOP, "access_token": TOKEN, "start_date": "2025-01-01", **overrides}
    return ShopifySettings.model_validate(raw)


def validated(entity: str, row: Row) -> Row:
    """The row as the runner stores it: validated by the canonical model."""
    model = ENTITIES[entity][0].model_validate({**row, "synced_at": NOW})
    return model.model_dump()


def map_order(order: dict[str, Any], **config: Any) -> tuple[Row, list[Row]]:
    rows = MAPPINGS.compile("shopify", "orders")(
        prepare_order(order, settings(**config)), tenant="alpen", connection="shop"
    )
    assert rows[0][0] == "conversion"
    assert {entity for entity, _ in rows[1:]} <= {"conversion_item"}
    return validated(*rows[0]), [validated(entity, row) for entity, row in rows[1:]]


def map_products(product: dict[str, Any]) -> list[Row]:
    mapping = MAPPINGS.compile("shopify", "products")
    rows = []
    for record in product_records(product, shop_currency="EUR", shop=SHOP):
        for entity, row in mapping(record, tenant="alpen", connection="shop"):
            assert entity == "sku"
            rows.append(validated(entity, row))
    return rows


# --------------------------------------------------------------------------- the file


def test_the_mapping_file_maps_orders_and_products_only() -> None:
    assert MAPPINGS.streams("shopify") == ["orders", "products"]
    assert not MAPPINGS.has("shopify", "customers")  # no customer entity in schema v1


def test_the_mapping_file_needs_the_shopify_converters() -> None:
    with pytest.raises(MappingFileError) as failure:
        Mappings([mapping_file()])
    assert "shopify_order_status" in str(failure.value)


def test_every_sample_maps_to_valid_rows_without_personal_data() -> None:
    for order in samples.ORDERS:
        conversion, items = map_order(fresh(order))
        assert len(items) == len(order["line_items"])
        dumped = json.dumps([conversion, *items], default=str, ensure_ascii=False)
        leaked = [value for value in samples.PERSONAL_VALUES if value in dumped]
        assert not leaked, (order["name"], leaked)


# --------------------------------------------------------------------------- orders


def test_a_multi_currency_order() -> None:
    conversion, [item] = map_order(fresh(samples.MULTI_CURRENCY))
    assert conversion["external_id"] == "6123400000042"
    assert conversion["id"] == make_id("alpen", "shopify", "conversion", "6123400000042")
    assert conversion["source_updated_at"] == datetime(2025, 3, 14, 15, 21, 40, tzinfo=UTC)
    assert conversion["order_ref"] == "2042"
    assert conversion["occurred_at"] == datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC)
    assert conversion["status"] == "pending"
    # Shop money, the original total incl. shipping; the buyer's CHF kept beside it.
    assert (conversion["amount"], conversion["currency"]) == (Decimal("122.90"), "EUR")
    assert (conversion["presentment_amount"], conversion["presentment_currency"]) == (
        Decimal("115.63"),
        "CHF",
    )
    assert conversion["refunded_amount"] == Decimal("0.00")
    assert conversion["voucher_codes"] == ["SPRING10"]
    # note_attributes win over landing_site, which carries an older click.
    assert conversion["click_ref"] == "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"
    assert conversion["customer_ref"] == hash_value("7788000000012")
    assert conversion["customer_type"] == "unknown"  # customer record older than the order
    assert conversion["device"] == "desktop"
    assert conversion["country"] == "CH"
    assert (conversion["channel_source"], conversion["channel_medium"]) == ("awin", "affiliate")
    assert conversion["is_test"] is False
    assert item["conversion_id"] == conversion["id"]
    assert item["external_id"] == "6123400000042:16200000000421"
    assert item["line_ref"] == "16200000000421"
    assert item["sku"] == "ALP-RUCK-28-BLU"
    assert item["title"] == "Tagesrucksack Alpsee 28 l - Blau"
    assert (item["quantity"], item["refunded_quantity"]) == (1, 0)
    assert (item["unit_price"], item["discount"], item["amount"]) == (
        Decimal("120.00"),
        Decimal("12.00"),
        Decimal("108.00"),
    )
    assert item["currency"] == "EUR"  # shop money, not the CHF the buyer saw


def test_extra_keeps_every_unplaced_field_and_drops_placed_ones() -> None:
    conversion, [item] = map_order(fresh(samples.MULTI_CURRENCY))
    extra = conversion["extra"]
    assert extra["note"] == "Bitte als Geschenk verpacken 🎁"
    assert extra["note_attributes"] == [
        {"name": "awc", "value": "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"},
        {"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"},
    ]
    assert extra["landing_site"].startswith("/de-ch/products/tagesrucksack-alpsee?awc=")
    assert extra["cancelled_at"] is None and extra["financial_status"] == "paid"
    assert extra["subtotal_price"] == "108.00" and extra["total_tax"] == "0.00"
    assert extra["total_shipping_price_set"]["presentment_money"]["currency_code"] == "CHF"
    assert extra["discount_codes"] == [{"amount": "11.29", "type": "percentage"}]
    assert extra["_hub"] == {
        "click_ref_name": "awc",
        "click_ref_in": "note_attributes",
        "email_sha256": hash_value("lea.zuercher@example.ch"),
    }
    assert extra["customer"]["state"] == "enabled" and "id" not in extra["customer"]
    for placed in ("id", "updated_at", "total_price", "currency", "test", "line_items"):
        assert placed not in extra
    assert item["extra"]["discount_allocations"][0]["discount_application_index"] == 0
    assert item["extra"]["vendor"] == "Alpenglück"
    assert "sku" not in item["extra"] and "_hub" not in item["extra"]


def test_a_partial_refund_is_counted_in_shop_money_not_in_the_refund_currency() -> None:
    conversion, items = map_order(fresh(samples.PARTIAL_REFUND))
    # total_price 108.80 - current_total_price 79.40, in EUR. The refund transaction
    # (32.10) is in USD, the presentment currency: summing it would mix currencies.
    assert conversion["refunded_amount"] == Decimal("29.40")
    assert conversion["currency"] == "EUR"
    assert (conversion["presentment_amount"], conversion["presentment_currency"]) == (
        Decimal("118.81"),
        "USD",
    )
    assert conversion["status"] == "pending"
    socks, cap = items
    assert (socks["quantity"], socks["refunded_quantity"]) == (2, 1)
    assert (socks["discount"], socks["amount"]) == (Decimal("0.00"), Decimal("49.00"))
    assert (cap["quantity"], cap["refunded_quantity"]) == (1, 0)
    assert (cap["unit_price"], cap["discount"], cap["amount"]) == (
        Decimal("59.90"),
        Decimal("5.00"),
        Decimal("54.90"),
    )
    assert cap["title"] == "Schirmmütze"
    # The click id is only in the landing page URL, under iclid.
    assert conversion["click_ref"] == "IR-77-ab12cd"
    assert conversion["extra"]["_hub"]["click_ref_in"] == "landing_site"
    assert (conversion["channel_source"], conversion["channel_medium"]) == ("impact", "affiliate")
    assert conversion["customer_type"] == "new"  # customer created by this checkout
    assert conversion["device"] == "mobile"
    assert conversion["country"] == "AT"  # no billing address; shipping "at" upper-cased
    refund = conversion["extra"]["refunds"][0]
    assert refund["refund_line_items"][0]["subtotal"] == 24.5  # numbers kept as sent
    assert refund["transactions"][0]["currency"] == "USD"


def test_refund_amounts_sent_as_numbers_convert_exactly() -> None:
    assert shopify_line_amount({"price": 24.5, "quantity": 3, "discount_allocations": []}) == (
        Decimal("73.5")
    )
    order = {"total_price": 108.8, "current_total_price": 79.4}
    assert shopify_refunded_amount(order) == Decimal("29.4")


def test_a_cancelled_order() -> None:
    conversion, [item] = map_order(fresh(samples.CANCELLED))
    assert conversion["status"] == "cancelled"
    assert conversion["refunded_amount"] == Decimal("39.90")  # current total 0.00
    assert conversion["amount"] == Decimal("39.90")
    assert item["refunded_quantity"] == 1  # the cancel refund (restock_type cancel)
    assert conversion["extra"]["cancelled_at"] == "2025-03-21T12:15:00+01:00"
    assert conversion["extra"]["cancel_reason"] == "customer"
    assert conversion["click_ref"] == "cid-4711"  # surrounding blanks dropped
    assert conversion["device"] == "tablet"
    assert conversion["country"] == "DE"
    assert conversion["voucher_codes"] == []


def test_a_test_order_with_several_discount_codes() -> None:
    conversion, [item] = map_order(fresh(samples.TEST_ORDER))
    assert conversion["is_test"] is True
    assert conversion["voucher_codes"] == ["SPRING10", "FREESHIP"]
    # "AWC" is another attribute (names are case-sensitive), click_id is blank, so iclid
    # from note_attributes wins over awc in the landing page.
    assert conversion["click_ref"] == "IR-90-zz"
    assert conversion["order_ref"] == "2090"
    assert conversion["device"] == "desktop"
    assert conversion["customer_type"] == "new"
    assert (item["discount"], item["amount"]) == (Decimal("9.99"), Decimal("89.91"))
    assert conversion["extra"]["payment_gateway_names"] == ["bogus"]


def test_a_pos_order_without_customer_with_null_empty_and_custom_skus() -> None:
    conversion, items = map_order(fresh(samples.POS_ORDER))
    assert conversion["customer_ref"] is None  # no customer and e-mail ""
    assert conversion["customer_type"] == "unknown"
    assert conversion["device"] == "pos"
    assert conversion["country"] is None
    assert conversion["click_ref"] is None
    assert (conversion["channel_source"], conversion["channel_medium"]) == (None, None)
    assert [item["sku"] for item in items] == [None, None, None]
    assert [item["title"] for item in items] == [
        "登山用ソックス 🧦",
        "Karabiner",
        "Gravur-Service ✍️",
    ]
    assert [item["amount"] for item in items] == [
        Decimal("29.70"),
        Decimal("4.50"),
        Decimal("13.50"),
    ]
    custom = items[2]
    assert custom["extra"]["product_id"] is None and custom["extra"]["product_exists"] is False
    assert custom["extra"]["properties"] == [{"name": "Text", "value": "Für Oma ❤️"}]
    assert conversion["extra"]["note"] == "Доставка после 18:00"


def test_an_order_without_a_customer_but_with_an_email_is_referenced_by_its_hash() -> None:
    order = fresh(samples.POS_ORDER)
    order["email"] = " Kim@Example.org "
    conversion, _ = map_order(order)
    assert conversion["customer_ref"] == hash_value("kim@example.org")
    assert "_hub" not in conversion["extra"]  # the hash was placed
    assert "Kim@Example.org" not in json.dumps(conversion, default=str)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("order_number", "2042"), ("name", "#2042"), ("id", "6123400000042")],
)
def test_order_ref_follows_the_connection_setting(setting: str, expected: str) -> None:
    conversion, _ = map_order(fresh(samples.MULTI_CURRENCY), order_ref=setting)
    assert conversion["order_ref"] == expected


def test_click_ref_attributes_are_configurable_and_case_sensitive() -> None:
    order = fresh(samples.MULTI_CURRENCY)
    order["note_attributes"].append({"name": "Partner-Click", "value": "pc-1"})
    conversion, _ = map_order(order, click_ref_attributes=["partner-click"])
    assert conversion["click_ref"] is None
    conversion, _ = map_order(order, click_ref_attributes=["Partner-Click", "awc"])
    assert conversion["click_ref"] == "pc-1"


def test_the_same_order_seen_twice_maps_to_the_same_ids() -> None:
    first, first_items = map_order(fresh(samples.PARTIAL_REFUND))
    later = fresh(samples.PARTIAL_REFUND)
    later["updated_at"] = "2025-04-01T00:00:00+02:00"
    second, second_items = map_order(later)
    assert first["id"] == second["id"]
    assert [i["id"] for i in first_items] == [i["id"] for i in second_items]
    assert second["source_updated_at"] > first["source_updated_at"]


def test_imported_orders_convert_at_processed_at() -> None:
    order = fresh(samples.MULTI_CURRENCY)
    order["processed_at"] = "2019-05-01T12:00:00+02:00"  # the original time, before import
    conversion, _ = map_order(order)
    assert conversion["occurred_at"] == datetime(2019, 5, 1, 10, 0, tzinfo=UTC)
    del order["processed_at"]
    conversion, _ = map_order(order)
    assert conversion["occurred_at"] == datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC)


def test_a_line_item_without_id_quarantines_the_order() -> None:
    order = fresh(samples.MULTI_CURRENCY)
    order["line_items"][0]["id"] = None
    with pytest.raises(RecordError):
        map_order(order)


def test_an_unreadable_amount_quarantines_the_order() -> None:
    order = fresh(samples.MULTI_CURRENCY)
    order["total_price"] = "12,30 €"
    with pytest.raises(RecordError) as failure:
        map_order(order)
    assert "amount" in str(failure.value)


# --------------------------------------------------------------------------- products


def test_one_sku_row_per_variant() -> None:
    blue, green = map_products(fresh(samples.PRODUCTS[0]))
    assert blue["external_id"] == "48100000000001"
    assert blue["id"] == make_id("alpen", "shopify", "sku", "48100000000001")
    assert blue["sku"] == "ALP-RUCK-28-BLU"
    assert blue["title"] == "Tagesrucksack Alpsee 28 l - Blau"
    assert (blue["category"], blue["brand"]) == ("Rucksäcke", "Alpenglück")
    assert blue["gtin"] == "4006381333931"
    assert (blue["price"], blue["currency"]) == (Decimal("120.00"), "EUR")
    assert blue["url"] == f"https://{SHOP}.myshopify.com/products/tagesrucksack-alpsee"
    assert (blue["product_ref"], blue["variant_ref"]) == ("9100000000001", "48100000000001")
    assert blue["active"] is True
    assert blue["source_updated_at"] == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    assert blue["extra"]["variant"]["compare_at_price"] == "139.00"
    assert blue["extra"]["body_html"] == "<p>Leicht, robust, wasserabweisend. 🏔️</p>"
    assert blue["extra"]["handle"] == "tagesrucksack-alpsee"
    assert (green["sku"], green["gtin"]) == (None, None)  # "" and null: no SKU, no GTIN
    assert green["title"] == "Tagesrucksack Alpsee 28 l - Grün"


def test_an_archived_single_variant_product() -> None:
    [socks] = map_products(fresh(samples.PRODUCTS[1]))
    assert socks["title"] == "登山用ソックス 🧦"  # "Default Title" is not shown
    assert socks["active"] is False
    assert socks["url"] is None  # not published to the online store
    assert (socks["category"], socks["brand"], socks["sku"], socks["gtin"]) == (
        None,
        None,
        None,
        None,
    )


def test_an_unlisted_product_is_active() -> None:
    product = fresh(samples.PRODUCTS[0])
    product["status"] = "unlisted"
    assert [row["active"] for row in map_products(product)] == [True, True]


def test_a_product_without_variants_yields_no_sku() -> None:
    assert product_records({"id": 1, "variants": []}, shop_currency="EUR", shop=SHOP) == []


def test_customer_records_share_the_orders_customer_ref() -> None:
    conversion, _ = map_order(fresh(samples.MULTI_CURRENCY))
    customer = prepare_customer(fresh(samples.CUSTOMERS[0]))
    assert customer["_hub"]["customer_ref"] == conversion["customer_ref"]


# --------------------------------------------------------------------------- converters


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (samples.MAC_SAFARI, "desktop"),
        (samples.WINDOWS_EDGE, "desktop"),
        (samples.IPHONE, "mobile"),
        (samples.ANDROID_TABLET, "tablet"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/121.0 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) Mobile/15E148", "tablet"),
        ("Mozilla/5.0 (Linux; Android 11; KFTRWI) Silk/120.2 like Chrome/120.0", "tablet"),
        ("Opera/9.80 (J2ME/MIDP; Opera Mini/9.80)", "mobile"),
        ("  ", None),
    ],
)
def test_user_agent_device(agent: str, device: str | None) -> None:
    assert user_agent_device(agent) == device


def test_shopify_device_falls_back_to_pos_only_for_pos_orders() -> None:
    assert shopify_device({"client_details": None, "source_name": "pos"}) == "pos"
    assert shopify_device({"client_details": None, "source_name": "shopify_draft_order"}) is None
    assert shopify_device({"client_details": {"user_agent": samples.IPHONE}}) == "mobile"


def test_customer_type_window_is_an_argument() -> None:
    order = {
        "created_at": "2025-03-20T10:00:00+01:00",
        "customer": {"created_at": "2025-03-20T09:45:00+01:00"},
    }
    assert shopify_customer_type(order) == "unknown"  # 15 minutes before: default window 10
    assert shopify_customer_type(order, window_minutes=20) == "new"
    assert shopify_customer_type({**order, "customer": {}}) == "unknown"
    assert shopify_customer_type({**order, "customer": None}) == "unknown"


def test_refunded_amount_is_never_negative_and_needs_both_totals() -> None:
    assert shopify_refunded_amount({"total_price": "50.00", "current_total_price": "65.00"}) == (
        Decimal("0.00")
    )
    assert shopify_refunded_amount({"total_price": "50.00"}) is None
    assert shopify_refunded_amount({"total_price": "50.00", "current_total_price": ""}) is None


def test_landing_param_reads_relative_urls_and_ignores_blanks() -> None:
    order = {"landing_site": "/p?utm_source=%20&utm_medium=cpc&utm_source=late"}
    assert shopify_landing_param(order, name="utm_medium") == "cpc"
    assert shopify_landing_param(order, name=["utm_campaign", "utm_medium"]) == "cpc"
    assert shopify_landing_param({"landing_site": None}, name="utm_medium") is None


def test_variant_title_rules() -> None:
    assert shopify_variant_title({"title": "Mütze", "variant": {"title": "Rot"}}) == "Mütze - Rot"
    assert shopify_variant_title({"title": "Mütze", "variant": {"title": "Default Title"}}) == (
        "Mütze"
    )
    assert shopify_variant_title({"title": "", "variant": {"title": "Rot"}}) == "Rot"


def test_whole_record_converters_refuse_other_values() -> None:
    with pytest.raises(TypeError, match="path: \\$"):
        shopify_device("Mozilla/5.0")
