"""The mapping engine alone: the shipped Shopify ``orders`` mapping, records per second.

Run: ``.venv/bin/python bench/shopify_mapping_bench.py [--orders 5000] [--repeat 7] [--profile]``

Issue 8 asks for at least 100,000 line items per second on one core for this
mapping. The orders are built the way the connector builds them: raw REST
orders shaped like the example in the API reference (1 to 5 line items,
multi-currency, refunds, cancellations, POS orders without customer, test
orders), passed through ``connectors.shopify.streams.prepare_order`` with the
default settings. That happens once, before timing: what is timed is only the
compiled mapping (``mappings/shopify.yaml`` through ``load_mappings().compile``,
as ``hub.runner`` plans a run), called as ``hub.runner.normalize`` calls it.
Row validation, the store and HTTP are not part of it.

``--profile`` runs one pass under cProfile and prints where the time goes.
Before each pass the converters' caches of already-read texts are emptied, so
a pass gains nothing from the one before it.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.shopify import converters as shopify_converters
from connectors.shopify.settings import ShopifySettings
from connectors.shopify.streams import prepare_order
from hub.mapping import converters, load_mappings

TARGET_LINE_ITEMS_PER_SECOND = 100_000
#: Orders are placed 7 minutes apart from here: every record has its own timestamps.
START = datetime(2025, 3, 14, 16, 20, 5, tzinfo=timezone(timedelta(hours=1)))

AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0",
]
PRODUCTS = [
    ("ALP-RUCK-28-BLU", "Tagesrucksack Alpsee 28 l", "Blau", "89.00"),
    ("ALP-FLASK-1L", "Trinkflasche Edelweiß 1 l", "Default Title", "24.90"),
    ("ALP-SOCK-43", "Wandersocken Säntis", "43-46", "17.50"),
    ("", "Geschenkkarte", "Default Title", "50.00"),
    (None, "Gravur ⛰️", "Default Title", "9.00"),
]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _money(amount: str, presented: str, currency: str, presentment: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": presented, "currency_code": presentment},
    }


def _line(rng: random.Random, order_id: int, number: int, presentment: str) -> dict[str, Any]:
    sku, title, variant, price = rng.choice(PRODUCTS)
    quantity = rng.randint(1, 3)
    discount = f"{rng.choice([0, 0, 5, 12]):.2f}"
    allocations = (
        [
            {
                "amount": discount,
                "discount_application_index": 0,
                "amount_set": _money(discount, discount, "EUR", presentment),
            }
        ]
        if discount != "0.00"
        else []
    )
    line_id = order_id * 10 + number
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "product_id": 9100000000000 + number if sku is not None else None,
        "variant_id": 48100000000000 + number if sku is not None else None,
        "product_exists": sku is not None,
        "sku": sku,
        "title": title,
        "variant_title": None if variant == "Default Title" else variant,
        "name": title if variant == "Default Title" else f"{title} - {variant}",
        "vendor": "Alpenglück",
        "quantity": quantity,
        "current_quantity": quantity,
        "fulfillable_quantity": 0,
        "fulfillment_status": "fulfilled",
        "price": price,
        "price_set": _money(price, price, "EUR", presentment),
        "total_discount": "0.00",
        "total_discount_set": _money("0.00", "0.00", "EUR", presentment),
        "discount_allocations": allocations,
        "tax_lines": [
            {
                "title": "MwSt",
                "rate": 0.081,
                "price": "6.72",
                "price_set": _money("6.72", "6.32", "EUR", presentment),
            }
        ],
        "duties": [],
        "taxable": True,
        "requires_shipping": True,
        "gift_card": sku == "",
        "grams": 640,
        "properties": [{"name": "Gravur", "value": "Für Léa"}] if sku is None else [],
        "variant_inventory_management": "shopify",
        "attributed_staffs": [],
    }


def raw_order(number: int, rng: random.Random) -> dict[str, Any]:
    """One REST order (API 2025-xx) with personal data, as ``GET /orders.json`` returns it."""
    order_id = 6123400000000 + number
    placed = START + timedelta(minutes=7 * number, seconds=number % 60)
    created, updated = _iso(placed), _iso(placed + timedelta(minutes=1, seconds=35))
    presentment = "CHF" if number % 3 == 0 else "EUR"
    pos = number % 11 == 0
    cancelled = number % 17 == 0
    refunded = number % 7 == 0
    lines = [_line(rng, order_id, n, presentment) for n in range(rng.randint(1, 5))]
    awc = f"15880_1741964712_{number:032x}"
    attributes = [{"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"}]
    if number % 2:
        attributes.insert(0, {"name": "awc", "value": awc})
    total = f"{rng.randint(2000, 60000) / 100:.2f}"
    current = "0.00" if cancelled else ("10.00" if refunded else total)
    refunds = []
    if refunded or cancelled:
        refunds.append(
            {
                "id": 9900000000 + number,
                "order_id": order_id,
                "created_at": updated,
                "note": "Rückgabe",
                "refund_line_items": [
                    {
                        "id": 1,
                        "line_item_id": lines[0]["id"],
                        "quantity": 1,
                        "restock_type": "cancel" if cancelled else "return",
                        "subtotal": 24.5,
                        "total_tax": 1.98,
                    }
                ],
                "transactions": [
                    {
                        "id": 1,
                        "kind": "refund",
                        "status": "success",
                        "amount": "24.50",
                        "currency": presentment,
                        "gateway": "shopify_payments",
                        "receipt": {"card": "4242"},
                        "payment_details": {"credit_card_number": "•••• 4242"},
                    }
                ],
                "order_adjustments": [],
            }
        )
    address = {
        "first_name": "Léa",
        "last_name": "Zürcher",
        "address1": "Bahnhofstrasse 1",
        "city": "Zürich",
        "zip": "8001",
        "province": "Zürich",
        "country": "Switzerland",
        "country_code": "CH",
        "phone": "+41 44 000 00 00",
    }
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{2000 + number}",
        "order_number": 2000 + number,
        "number": 1000 + number,
        "token": f"{number:032x}",
        "created_at": created,
        "updated_at": updated,
        "processed_at": created,
        "cancelled_at": updated if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "closed_at": None,
        "test": number % 50 == 0,
        "financial_status": "voided"
        if cancelled
        else ("partially_refunded" if refunded else "paid"),
        "fulfillment_status": None,
        "confirmed": True,
        "source_name": "pos" if pos else "web",
        "currency": "EUR",
        "presentment_currency": presentment,
        "taxes_included": False,
        "total_line_items_price": "120.00",
        "total_line_items_price_set": _money("120.00", "112.90", "EUR", presentment),
        "total_discounts": "12.00",
        "total_discounts_set": _money("12.00", "11.29", "EUR", presentment),
        "subtotal_price": "108.00",
        "total_tax": "0.00",
        "total_price": total,
        "total_price_set": _money(total, total, "EUR", presentment),
        "current_total_price": current,
        "current_total_price_set": _money(current, current, "EUR", presentment),
        "total_shipping_price_set": _money("14.90", "14.02", "EUR", presentment),
        "payment_gateway_names": ["shopify_payments"],
        "email": "" if pos else f"kunde{number}@example.ch",
        "contact_email": None if pos else f"kunde{number}@example.ch",
        "phone": None,
        "browser_ip": None if pos else "192.0.2.41",
        "order_status_url": f"https://alpenglueck.myshopify.com/{number}/orders/abc",
        "note": None,
        "tags": "Wandern, Sommer",
        "discount_codes": [{"code": "SPRING10", "amount": "11.29", "type": "percentage"}]
        if number % 4
        else [],
        "note_attributes": attributes,
        "landing_site": None
        if pos
        else f"/de-ch/products/tagesrucksack-alpsee?awc={awc}&utm_source=awin&utm_medium=affiliate",
        "referring_site": "https://www.awin1.com/",
        "client_details": None
        if pos
        else {
            "accept_language": "de-CH,de;q=0.9",
            "browser_ip": "192.0.2.41",
            "browser_height": None,
            "browser_width": None,
            "session_hash": None,
            "user_agent": AGENTS[number % len(AGENTS)],
        },
        "customer": None
        if pos
        else {
            "id": 7788000000000 + number % 997,
            "email": f"kunde{number}@example.ch",
            "first_name": "Léa",
            "last_name": "Zürcher",
            "phone": None,
            "state": "disabled",
            "created_at": _iso(placed - timedelta(seconds=50))
            if number % 3
            else "2023-01-02T10:00:00Z",
            "updated_at": updated,
            "tags": "",
        },
        "billing_address": None if pos else address,
        "shipping_address": None if pos else address,
        "line_items": lines,
        "shipping_lines": [
            {"id": 1, "title": "Standard", "price": "14.90", "phone": None, "tax_lines": []}
        ],
        "tax_lines": [],
        "refunds": refunds,
    }


def prepared_orders(count: int, seed: int = 8) -> list[dict[str, Any]]:
    """``count`` records as the ``orders`` stream yields them (default settings)."""
    settings = ShopifySettings.model_validate(
        {"shop": "alpenglueck", "access_token": "shpat_bench", "start_date": date(2025, 1, 1)}
    )
    rng = random.Random(seed)
    return [prepare_order(raw_order(number, rng), settings) for number in range(count)]


def forget_texts() -> None:
    """Empty the converters' caches of texts already read (decimals, timestamps, URLs).

    Every pass maps the same records; without this, a later pass would find
    texts the earlier one read, which a real sync (new records) would not.
    Texts repeated *within* the records (prices, "0.00") still hit, as they do.
    """
    for name in ("_DECIMALS", "_INSTANTS", "_QUERIES"):  # (absent before issue 8)
        getattr(converters, name, {}).clear()
    getattr(shopify_converters, "_DEVICES", {}).clear()  # user agent -> device


def timed_pass(call: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> float:
    forget_texts()
    started = time.perf_counter()
    for record in records:
        call(record)
    return time.perf_counter() - started


def profile(call: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> None:
    """cProfile, by own time: it shows the generated ``<mapping ...>`` functions (the
    pruners, the getters) that sampling profilers fold away. Call counts per
    order tell what runs per line item; the profiler's overhead inflates the
    times of functions making many small calls, so compare with the timed run."""
    profiler = cProfile.Profile()
    profiler.enable()
    timed_pass(call, records)
    profiler.disable()
    print(f"{len(records):,} orders, cProfile (times inflated by profiling):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile one pass, print hot spots")
    options = parser.parse_args()

    mapping = load_mappings().compile("shopify", "orders")  # as hub.runner plans a run
    records = prepared_orders(options.orders)
    lines = sum(len(record.get("line_items") or ()) for record in records)

    def call(record: dict[str, Any]) -> Any:  # as hub.runner.normalize calls it
        return mapping(record, tenant="acme", connection="shop")

    rows = sum(len(call(record)) for record in records)  # warm-up, and the row count
    if options.profile:
        profile(call, records)
        return
    seconds = [timed_pass(call, records) for _ in range(options.repeat)]
    median = statistics.median(seconds)

    def line(label: str, count: int) -> str:
        rates = [count / s for s in (median, max(seconds), min(seconds))]
        return f"{label:<18}{rates[0]:>12,.0f}/s   (min {rates[1]:,.0f}, max {rates[2]:,.0f})"

    print(
        f"orders:           {len(records):,} ({lines:,} line items, {rows:,} rows) "
        f"x {options.repeat} passes, median (min-max)"
    )
    print(line("orders", len(records)))
    print(line("canonical rows", rows))
    print(line("line items", lines))
    met = lines / median >= TARGET_LINE_ITEMS_PER_SECOND
    print(
        f"target {TARGET_LINE_ITEMS_PER_SECOND:,} line items/s: {'met' if met else 'NOT met'} "
        f"({lines / median / TARGET_LINE_ITEMS_PER_SECOND:.2f}x)"
    )


if __name__ == "__main__":
    main()
