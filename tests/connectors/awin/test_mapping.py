"""mappings/awin.yaml on the Awin traps of apis.md §2.7.

Records go through the stream's preparation (dates as the API answers them
in a requested zone, then ``prepare_transaction``) and the compiled mapping;
every row must validate against the canonical schema, as the runner does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.awin import mapping_file
from connectors.awin.converters import CONVERTERS, awin_basket_amount
from connectors.awin.streams import (
    prepare_commission_group,
    prepare_partner,
    prepare_transaction,
    publisher_kind,
)
from hub.errors import RecordError
from hub.mapping import Mappings
from hub.schema import ENTITIES, make_id
from tests.connectors.awin import samples
from tests.connectors.awin.samples import _localised, fresh

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAPPINGS = Mappings([mapping_file()], CONVERTERS)
BERLIN = ZoneInfo("Europe/Berlin")

Row = dict[str, Any]


def validated(entity: str, row: Row) -> Row:
    model = ENTITIES[entity][0].model_validate({**row, "synced_at": NOW})
    return model.model_dump()


def map_transaction(sample: dict[str, Any], zone: ZoneInfo = BERLIN) -> dict[str, list[Row]]:
    """The rows of one transaction as answered in ``zone``, grouped by entity."""
    record = prepare_transaction(_localised(sample, zone), zone)
    rows = MAPPINGS.compile("awin", "transactions")(record, tenant="alpen", connection="awin")
    assert rows[0][0] == "conversion"
    grouped: dict[str, list[Row]] = {}
    for entity, row in rows:
        grouped.setdefault(entity, []).append(validated(entity, row))
    return grouped


def test_approved_amended_transaction() -> None:
    rows = map_transaction(samples.AMENDED)
    conversion = rows["conversion"][0]
    assert conversion["external_id"] == "3050000117"
    assert conversion["status"] == "approved"
    assert conversion["amount"] == Decimal("100.84") and conversion["currency"] == "EUR"
    assert conversion["commission_amount"] == Decimal("8.07")
    assert conversion["commission_currency"] == "EUR"
    assert conversion["order_ref"] == "2031"
    # Berlin local 18:09 (CET, +01:00) in the response -> 17:09 UTC.
    assert conversion["occurred_at"] == datetime(2025, 3, 10, 17, 9, tzinfo=UTC)
    assert conversion["validated_at"] == datetime(2025, 4, 2, 6, 15, tzinfo=UTC)
    assert conversion["source_updated_at"] == datetime(2025, 4, 2, 6, 15, tzinfo=UTC)
    assert conversion["device"] == "Windows" and conversion["country"] == "AT"
    assert conversion["click_ref"] == "fruehling-ranking"
    assert conversion["voucher_codes"] == []
    assert conversion["customer_type"] == "unknown"
    extra = conversion["extra"]
    # The amendment keeps the old amounts, the reason and the flag in extra.
    assert extra["amended"] is True
    assert extra["amendReason"] == "Trinkflasche retourniert"
    assert extra["oldSaleAmount"] == {"amount": 125.97, "currency": "EUR"}
    assert extra["oldCommissionAmount"] == {"amount": 9.33, "currency": "EUR"}
    assert extra["clickRefs"] == {"clickRef3": "newsletter"}
    assert extra["_hub"] == {"timezone": "Europe/Berlin"}
    # Several commission groups on one sale: the parts stay whole in extra.
    parts = extra["transactionParts"]
    assert [p["commissionGroupCode"] for p in parts] == ["DEFAULT", "ACC"]
    assert sum(Decimal(str(p["amount"])) for p in parts) == conversion["amount"]
    assert "conversion_item" not in rows  # basketProducts null


def test_publisher_is_a_fill_partner_reference() -> None:
    rows = map_transaction(samples.AMENDED)
    conversion = rows["conversion"][0]
    (partner,) = rows["partner"]
    assert conversion["partner_id"] == make_id("alpen", "awin", "partner", "300401")
    assert partner["id"] == conversion["partner_id"]
    assert partner["name"] == "Wanderwelt Magazin"
    assert partner["network"] == "awin" and partner["network_partner_id"] == "300401"
    assert partner["kind"] == "publisher"
    assert partner["website"] == "https://www.wanderwelt-magazin.example"


def test_commission_groups_become_offer_references() -> None:
    rows = map_transaction(samples.DECLINED)
    offers = rows["offer"]
    assert {o["external_id"] for o in offers} == {"88101", "88103"}
    assert {o["name"] for o in offers} == {"Default", "Sale items"}
    assert all(o["kind"] == "commission_group" for o in offers)
    # global ids: the same group of another transaction is the same row
    other = map_transaction(samples.AMENDED)["offer"]
    assert make_id("alpen", "awin", "offer", "88101") in {o["id"] for o in other}
    assert make_id("alpen", "awin", "offer", "88101") in {o["id"] for o in offers}


def test_pending_with_voucher_and_basket_products() -> None:
    rows = map_transaction(samples.PENDING)
    conversion = rows["conversion"][0]
    assert conversion["status"] == "pending"
    assert conversion["amount"] == Decimal("97.5")
    assert conversion["commission_amount"] == Decimal("7.8")
    assert conversion["voucher_codes"] == ["SPRING10"]
    assert conversion["click_ref"] is None  # clickRefs null
    assert conversion["customer_type"] == "new"
    assert conversion["validated_at"] is None
    # 23:30 UTC = 00:30 the next day in Berlin; back to the same instant.
    assert conversion["occurred_at"] == datetime(2025, 3, 28, 23, 30, tzinfo=UTC)
    assert conversion["source_updated_at"] == conversion["occurred_at"]
    items = rows["conversion_item"]
    assert [i["sku"] for i in items] == ["ALP-RUCK-28-BLU", None]
    assert [i["quantity"] for i in items] == [2, 1]
    assert [i["unit_price"] for i in items] == [Decimal("32.5"), Decimal("32.5")]
    assert [i["amount"] for i in items] == [Decimal("65.0"), Decimal("32.5")]
    assert sum(i["amount"] for i in items) == conversion["amount"]
    assert [i["category"] for i in items] == ["Rucksäcke", "Zubehör"]
    assert {i["currency"] for i in items} == {"EUR"}
    assert {i["commission_group"] for i in items} == {"DEFAULT"}
    assert [i["line_ref"] for i in items] == ["9100000000001", "9100000000002"]
    assert {i["conversion_id"] for i in items} == {conversion["id"]}
    assert [i["external_id"] for i in items] == ["3050000201:0", "3050000201:1"]
    assert "basketProducts" not in conversion["extra"]


def test_declined_keeps_amounts_and_reason_without_float_noise() -> None:
    rows = map_transaction(samples.DECLINED)
    conversion = rows["conversion"][0]
    assert conversion["status"] == "declined"
    assert conversion["decline_reason"] == "Bestellung storniert"
    assert conversion["amount"] == Decimal("313.7")
    assert str(conversion["amount"]) == "313.7"
    assert str(conversion["commission_amount"]) == "25.1"
    assert conversion["click_ref"] == "größe-tabelle"
    assert conversion["extra"]["clickRefs"]["clickRef6"] == "Ærø"


def test_partial_click_refs_blanks_and_presentment() -> None:
    rows = map_transaction(samples.PARTIAL, ZoneInfo("US/Pacific"))
    conversion = rows["conversion"][0]
    assert conversion["click_ref"] is None  # "" is no click ref
    assert conversion["extra"]["clickRefs"] == {"clickRef2": "sidebar"}
    assert conversion["country"] is None and conversion["order_ref"] is None
    assert conversion["voucher_codes"] == []
    assert conversion["amount"] == Decimal("125")
    assert conversion["commission_amount"] == Decimal("10")
    assert conversion["presentment_amount"] == Decimal("121.6")
    assert conversion["presentment_currency"] == "CHF"
    assert conversion["customer_type"] == "returning"
    assert conversion["occurred_at"] == datetime(2025, 3, 15, 11, 0, tzinfo=UTC)
    assert "conversion_item" not in rows  # basketProducts []


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "US/Eastern", "Canada/Pacific"])
def test_dates_without_offset_in_any_requested_zone_give_the_same_instant(zone: str) -> None:
    conversion = map_transaction(samples.AMENDED, ZoneInfo(zone))["conversion"][0]
    assert conversion["occurred_at"] == datetime(2025, 3, 10, 17, 9, tzinfo=UTC)


def test_deleted_is_cancelled_and_unknown_status_is_an_error() -> None:
    deleted = {**fresh(samples.AMENDED), "commissionStatus": "deleted"}
    assert map_transaction(deleted)["conversion"][0]["status"] == "cancelled"
    odd = {**fresh(samples.AMENDED), "commissionStatus": "bonus"}
    with pytest.raises(RecordError, match="status"):
        map_transaction(odd)


def test_every_sample_row_validates() -> None:
    for sample in samples.TRANSACTIONS:
        for entity, rows in map_transaction(sample).items():
            assert entity in ENTITIES and rows


def test_partners_of_an_advertiser() -> None:
    compiled = MAPPINGS.compile("awin", "partners")
    rows = [
        validated(*compiled(prepare_partner(p, "advertiser"), tenant="t", connection="c")[0])
        for p in fresh(samples.PUBLISHERS)
    ]
    assert [r["kind"] for r in rows] == ["content", "voucher"]
    assert [r["country"] for r in rows] == ["AT", "DE"]
    assert {r["network"] for r in rows} == {"awin"}
    assert rows[0]["network_partner_id"] == "300401"
    assert rows[0]["id"] == make_id("t", "awin", "partner", "300401")


def test_programmes_of_a_publisher() -> None:
    compiled = MAPPINGS.compile("awin", "partners")
    (entity, row), *_ = compiled(
        prepare_partner(fresh(samples.PROGRAMMES[0]), "publisher"), tenant="t", connection="c"
    )
    partner = validated(entity, row)
    assert partner["kind"] == "merchant" and partner["name"] == "Alpenglück Outdoor AT"
    assert partner["website"] == "https://www.alpenglueck.example"
    assert partner["categories"] == ["Sports & Outdoor"] and partner["status"] == "active"


def test_commission_groups_offers() -> None:
    compiled = MAPPINGS.compile("awin", "commission_groups")
    groups = samples.COMMISSION_GROUPS[samples.ADVERTISER_ID]
    rows = [
        validated(*compiled(prepare_commission_group(g, 15880), tenant="t", connection="c")[0])
        for g in fresh(groups)
    ]
    assert [r["kind"] for r in rows] == ["commission_group", "commission_group"]
    assert [r["name"] for r in rows] == ["Default", "JS"]
    assert rows[0]["commission_rules"] == [{"type": "percentage", "percentage": "8"}]
    assert rows[1]["commission_rules"] == [{"type": "fix", "amount": "100", "currency": "GBP"}]
    assert rows[0]["extra"]["advertiserId"] == 15880


@pytest.mark.parametrize(
    ("primary_type", "kind"),
    [
        ("Cashback", "cashback"),
        ("Voucher Code", "voucher"),
        ("Sub Network", "network"),
        (None, "publisher"),
        ("Email", "publisher"),
    ],
)
def test_publisher_kind(primary_type: Any, kind: str) -> None:
    assert publisher_kind(primary_type) == kind


def test_basket_amount_converter() -> None:
    assert awin_basket_amount({"unitPrice": 0.1, "quantity": 3}) == Decimal("0.3")
    assert awin_basket_amount({"unitPrice": None, "quantity": 3}) is None
    with pytest.raises(TypeError):
        awin_basket_amount("x")
