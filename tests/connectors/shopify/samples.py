"""Hand-written Shopify REST objects (API 2025-xx shapes, see ../shared/reference/apis.md §1).

Each order exercises traps of apis.md §1.12: multi-currency, a partial
refund with refund amounts as JSON numbers and a transaction in the
presentment currency, a cancellation, a test order with several discount
codes, a POS order without customer or client details and with null, empty
and custom-item SKUs, and non-Latin and emoji text everywhere. Personal data
is fake but shaped like the real thing, so tests can prove it never leaves
the connector.
"""

from __future__ import annotations

import copy
from typing import Any

SHOP = "alpenglueck"
TOKEN = "shpat_fake_0123456789abcdef"

MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Safari/605.1.15"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36"
)
WINDOWS_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0"
)


def money(shop: str, presentment: str, shop_currency: str = "EUR", presented: str = "EUR") -> Any:
    return {
        "shop_money": {"amount": shop, "currency_code": shop_currency},
        "presentment_money": {"amount": presentment, "currency_code": presented},
    }


# 1. Multi-currency (EUR shop, CHF buyer); awc in note_attributes AND landing_site;
#    emoji in a note attribute; a customer created long before the order.
MULTI_CURRENCY = {
    "id": 6123400000042,
    "admin_graphql_api_id": "gid://shopify/Order/6123400000042",
    "name": "#2042",
    "order_number": 2042,
    "number": 1042,
    "token": "b1946ac92492d2347c6235b4d2611184",
    "created_at": "2025-03-14T16:20:05+01:00",
    "updated_at": "2025-03-14T16:21:40+01:00",
    "processed_at": "2025-03-14T16:20:05+01:00",
    "cancelled_at": None,
    "cancel_reason": None,
    "closed_at": None,
    "test": False,
    "financial_status": "paid",
    "fulfillment_status": None,
    "confirmed": True,
    "source_name": "web",
    "currency": "EUR",
    "presentment_currency": "CHF",
    "taxes_included": False,
    "total_line_items_price": "120.00",
    "total_line_items_price_set": money("120.00", "112.90", presented="CHF"),
    "total_discounts": "12.00",
    "total_discounts_set": money("12.00", "11.29", presented="CHF"),
    "subtotal_price": "108.00",
    "total_tax": "0.00",
    "total_price": "122.90",
    "total_price_set": money("122.90", "115.63", presented="CHF"),
    "current_total_price": "122.90",
    "current_total_price_set": money("122.90", "115.63", presented="CHF"),
    "total_shipping_price_set": money("14.90", "14.02", presented="CHF"),
    "payment_gateway_names": ["shopify_payments"],
    "email": "lea.zuercher@example.ch",
    "contact_email": "lea.zuercher@example.ch",
    "phone": "+41 79 123 45 67",
    "browser_ip": "192.0.2.41",
    "order_status_url": f"https://{SHOP}.myshopify.com/6123400/orders/b1946ac9/authenticate?key=k",
    "customer_locale": "de-CH",
    "note": "Bitte als Geschenk verpacken 🎁",
    "note_attributes": [
        {"name": "awc", "value": "15880_1741964712_2c4f6a8e0b1d3f5a7c9e1b3d5f7a9c0e"},
        {"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"},
    ],
    "landing_site": "/de-ch/products/tagesrucksack-alpsee?awc=15880_1741964700_ffff"
    "&utm_source=awin&utm_medium=affiliate",
    "referring_site": "https://www.awin1.com/",
    "discount_codes": [{"code": "SPRING10", "amount": "11.29", "type": "percentage"}],
    "client_details": {
        "accept_language": "de-CH,de;q=0.9",
        "browser_ip": "192.0.2.41",
        "browser_height": None,
        "browser_width": None,
        "session_hash": "9f86d081884c7d659a2feaa0c55ad015",
        "user_agent": MAC_SAFARI,
    },
    "customer": {
        "id": 7788000000012,
        "email": "lea.zuercher@example.ch",
        "first_name": "Léa",
        "last_name": "Zürcher",
        "phone": "+41791234567",
        "state": "enabled",
        "verified_email": True,
        "tags": "newsletter",
        "note": "Stammkundin",
        "created_at": "2023-06-01T09:00:00+02:00",
        "updated_at": "2025-03-14T16:21:40+01:00",
        "admin_graphql_api_id": "gid://shopify/Customer/7788000000012",
        "default_address": {"address1": "Seestrasse 1", "city": "Zürich", "country_code": "CH"},
        "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
    },
    "billing_address": {
        "first_name": "Léa",
        "last_name": "Zürcher",
        "name": "Léa Zürcher",
        "address1": "Seestrasse 1",
        "city": "Zürich",
        "zip": "8002",
        "province": "Zürich",
        "province_code": "ZH",
        "country": "Switzerland",
        "country_code": "CH",
        "phone": "+41 79 123 45 67",
        "latitude": 47.36,
        "longitude": 8.53,
    },
    "shipping_address": {
        "name": "Léa Zürcher",
        "address1": "Seestrasse 1",
        "city": "Zürich",
        "zip": "8002",
        "country": "Switzerland",
        "country_code": "CH",
    },
    "shipping_lines": [
        {
            "id": 5100000000042,
            "title": "Standard",
            "price": "14.90",
            "phone": "+41 79 123 45 67",
            "discount_allocations": [],
        }
    ],
    "line_items": [
        {
            "id": 16200000000421,
            "admin_graphql_api_id": "gid://shopify/LineItem/16200000000421",
            "product_id": 9100000000001,
            "variant_id": 48100000000001,
            "product_exists": True,
            "sku": "ALP-RUCK-28-BLU",
            "title": "Tagesrucksack Alpsee 28 l",
            "variant_title": "Blau",
            "name": "Tagesrucksack Alpsee 28 l - Blau",
            "vendor": "Alpenglück",
            "quantity": 1,
            "current_quantity": 1,
            "price": "120.00",
            "price_set": money("120.00", "112.90", presented="CHF"),
            "total_discount": "0.00",
            "discount_allocations": [
                {
                    "amount": "12.00",
                    "amount_set": money("12.00", "11.29", presented="CHF"),
                    "discount_application_index": 0,
                }
            ],
            "tax_lines": [],
            "properties": [],
        }
    ],
    "refunds": [],
}

# 2. Partial refund on a multi-currency order (EUR shop, USD buyer, taxes included):
#    one of two units refunded plus the shipping; refund amounts as JSON numbers, the
#    transaction in USD. Click id only in landing_site (iclid). The customer was
#    created by this checkout (a new customer). An iPhone.
PARTIAL_REFUND = {
    "id": 6123400000077,
    "name": "#2077",
    "order_number": 2077,
    "created_at": "2025-03-20T10:00:00+01:00",
    "updated_at": "2025-03-27T09:30:00+01:00",
    "processed_at": "2025-03-20T10:00:00+01:00",
    "cancelled_at": None,
    "test": False,
    "financial_status": "partially_refunded",
    "source_name": "web",
    "currency": "EUR",
    "presentment_currency": "USD",
    "taxes_included": True,
    "total_line_items_price": "108.90",
    "total_discounts": "5.00",
    "subtotal_price": "103.90",
    "total_tax": "17.37",
    "total_price": "108.80",
    "total_price_set": money("108.80", "118.81", presented="USD"),
    "current_total_price": "79.40",
    "current_total_price_set": money("79.40", "86.71", presented="USD"),
    "email": "sam.o'neill@example.com",
    "note_attributes": [],
    "landing_site": "/?iclid=IR-77-ab12cd&utm_source=impact&utm_medium=affiliate"
    "&utm_campaign=spring",
    "discount_codes": [{"code": "WELCOME5", "amount": "5.46", "type": "fixed_amount"}],
    "client_details": {"browser_ip": "2001:db8::7", "user_agent": IPHONE},
    "customer": {
        "id": 7788000000099,
        "email": "sam.o'neill@example.com",
        "first_name": "Sam",
        "last_name": "O'Neill",
        "state": "disabled",
        "created_at": "2025-03-20T10:00:02+01:00",
        "updated_at": "2025-03-27T09:30:00+01:00",
    },
    "billing_address": None,
    "shipping_address": {"name": "Sam O'Neill", "city": "Wien", "country_code": "at"},
    "line_items": [
        {
            "id": 16200000000771,
            "product_id": 9100000000002,
            "variant_id": 48100000000021,
            "sku": "SOCK-MERINO-42",
            "title": "Merino-Wandersocken",
            "variant_title": "42-44",
            "name": "Merino-Wandersocken - 42-44",
            "quantity": 2,
            "current_quantity": 1,
            "price": "24.50",
            "total_discount": "0.00",
            "discount_allocations": [],
        },
        {
            "id": 16200000000772,
            "product_id": 9100000000003,
            "variant_id": 48100000000031,
            "sku": "ALP-CAP-ROT",
            "title": "Schirmmütze",
            "variant_title": None,
            "name": "Schirmmütze",
            "quantity": 1,
            "current_quantity": 1,
            "price": "59.90",
            "total_discount": "0.00",
            "discount_allocations": [
                {"amount": "5.00", "amount_set": money("5.00", "5.46", presented="USD")}
            ],
        },
    ],
    "refunds": [
        {
            "id": 920000000077,
            "order_id": 6123400000077,
            "created_at": "2025-03-27T09:30:00+01:00",
            "processed_at": "2025-03-27T09:30:00+01:00",
            "note": "Größe passt nicht",
            "restock": True,
            "refund_line_items": [
                {
                    "id": 930000000077,
                    "line_item_id": 16200000000771,
                    "quantity": 1,
                    "restock_type": "return",
                    "subtotal": 24.5,
                    "subtotal_set": money("24.50", "26.75", presented="USD"),
                    "total_tax": 3.91,
                    "total_tax_set": money("3.91", "4.27", presented="USD"),
                }
            ],
            "order_adjustments": [
                {
                    "id": 940000000077,
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount": "-4.90",
                    "amount_set": money("-4.90", "-5.35", presented="USD"),
                    "tax_amount": "-0.78",
                }
            ],
            "transactions": [
                {
                    "id": 950000000077,
                    "kind": "refund",
                    "status": "success",
                    "amount": "32.10",
                    "currency": "USD",
                    "gateway": "shopify_payments",
                    "receipt": {"payer_email": "sam.o'neill@example.com"},
                    "payment_details": {"credit_card_name": "Sam O'Neill"},
                },
                {
                    "id": 950000000078,
                    "kind": "refund",
                    "status": "failure",
                    "amount": "32.10",
                    "currency": "USD",
                },
            ],
        }
    ],
}

# 3. Cancelled before capture: voided authorisation, a refund with restock_type cancel
#    and no money moved; current total 0.00. An Android tablet.
CANCELLED = {
    "id": 6123400000081,
    "name": "#2081",
    "order_number": 2081,
    "created_at": "2025-03-21T08:00:00+01:00",
    "updated_at": "2025-03-21T12:15:00+01:00",
    "processed_at": "2025-03-21T08:00:00+01:00",
    "cancelled_at": "2025-03-21T12:15:00+01:00",
    "cancel_reason": "customer",
    "test": False,
    "financial_status": "voided",
    "source_name": "web",
    "currency": "EUR",
    "presentment_currency": "EUR",
    "taxes_included": True,
    "total_price": "39.90",
    "total_price_set": money("39.90", "39.90"),
    "current_total_price": "0.00",
    "email": "jan@example.de",
    "note_attributes": [{"name": "click_id", "value": "  cid-4711  "}],
    "landing_site": None,
    "discount_codes": [],
    "client_details": {"user_agent": ANDROID_TABLET},
    "customer": {"id": 7788000000100, "created_at": "2024-12-24T18:00:00+01:00"},
    "billing_address": {"country_code": "DE", "name": "Jan Ñúñez", "address1": "Hauptstr. 5"},
    "line_items": [
        {
            "id": 16200000000811,
            "product_id": 9100000000004,
            "variant_id": 48100000000041,
            "sku": "ALP-FLASK-1L",
            "title": "Thermosflasche 1 l",
            "quantity": 1,
            "price": "39.90",
            "discount_allocations": [],
        }
    ],
    "refunds": [
        {
            "id": 920000000081,
            "created_at": "2025-03-21T12:15:00+01:00",
            "refund_line_items": [
                {
                    "line_item_id": 16200000000811,
                    "quantity": 1,
                    "restock_type": "cancel",
                    "subtotal": 39.9,
                    "total_tax": 6.37,
                }
            ],
            "order_adjustments": [],
            "transactions": [],
        }
    ],
}

# 4. A test order (bogus gateway) with several discount codes; the click id attribute
#    appears with the wrong case first (names are case-sensitive). Windows desktop.
TEST_ORDER = {
    "id": 6123400000090,
    "name": "TEST-2090",
    "order_number": 2090,
    "created_at": "2025-03-22T14:00:00+01:00",
    "updated_at": "2025-03-22T14:00:30+01:00",
    "processed_at": "2025-03-22T14:00:00+01:00",
    "cancelled_at": None,
    "test": True,
    "financial_status": "paid",
    "source_name": "web",
    "payment_gateway_names": ["bogus"],
    "currency": "EUR",
    "presentment_currency": "EUR",
    "taxes_included": True,
    "total_line_items_price": "99.90",
    "total_discounts": "14.89",
    "total_price": "85.01",
    "total_price_set": money("85.01", "85.01"),
    "current_total_price": "85.01",
    "email": "qa+test@alpenglueck.example",
    "note_attributes": [
        {"name": "AWC", "value": "upper-case-is-another-attribute"},
        {"name": "click_id", "value": ""},
        {"name": "iclid", "value": "IR-90-zz"},
    ],
    "landing_site": "/collections/sale?awc=from-landing-site-loses",
    "discount_codes": [
        {"code": "SPRING10", "amount": "9.99", "type": "percentage"},
        {"code": "FREESHIP", "amount": "4.90", "type": "shipping"},
    ],
    "client_details": {"user_agent": WINDOWS_EDGE},
    "customer": {"id": 7788000000101, "created_at": "2025-03-22T13:58:00+01:00"},
    "shipping_address": {"country_code": "DE"},
    "line_items": [
        {
            "id": 16200000000901,
            "product_id": 9100000000005,
            "variant_id": 48100000000051,
            "sku": "ALP-JACKE-M",
            "title": "Regenjacke Föhn",
            "name": "Regenjacke Föhn - M",
            "quantity": 1,
            "price": "99.90",
            "discount_allocations": [
                {"amount": "9.99", "discount_application_index": 0},
            ],
        }
    ],
    "shipping_lines": [
        {"price": "4.90", "discount_allocations": [{"amount": "4.90"}]},
    ],
    "refunds": [],
}

# 5. POS: no customer, e-mail "", no client details, no addresses; lines with a null
#    SKU, an empty SKU and a custom item (product_id null); Japanese and emoji titles.
POS_ORDER = {
    "id": 6123400000095,
    "name": "#2095",
    "order_number": 2095,
    "created_at": "2025-03-23T11:11:11+01:00",
    "updated_at": "2025-03-23T11:11:12+01:00",
    "processed_at": "2025-03-23T11:11:11+01:00",
    "cancelled_at": None,
    "test": False,
    "financial_status": "paid",
    "source_name": "pos",
    "location_id": 64000000001,
    "user_id": 81000000001,
    "device_id": "3",
    "payment_gateway_names": ["cash"],
    "currency": "EUR",
    "presentment_currency": "EUR",
    "taxes_included": True,
    "total_price": "47.70",
    "total_price_set": money("47.70", "47.70"),
    "current_total_price": "47.70",
    "email": "",
    "phone": None,
    "customer": None,
    "client_details": None,
    "billing_address": None,
    "shipping_address": None,
    "note": "Доставка после 18:00",
    "note_attributes": [],
    "landing_site": None,
    "discount_codes": [],
    "line_items": [
        {
            "id": 16200000000951,
            "product_id": 9100000000006,
            "variant_id": 48100000000061,
            "sku": None,
            "title": "登山用ソックス 🧦",
            "quantity": 3,
            "price": "9.90",
            "discount_allocations": [],
        },
        {
            "id": 16200000000952,
            "product_id": 9100000000007,
            "variant_id": 48100000000071,
            "sku": "",
            "title": "Karabiner",
            "quantity": 1,
            "price": "4.50",
            "discount_allocations": [],
        },
        {
            "id": 16200000000953,
            "product_id": None,
            "variant_id": None,
            "product_exists": False,
            "sku": None,
            "title": "Gravur-Service ✍️",
            "quantity": 1,
            "price": "13.50",
            "discount_allocations": [],
            "properties": [{"name": "Text", "value": "Für Oma ❤️"}],
        },
    ],
    "refunds": [],
}

ORDERS = [MULTI_CURRENCY, PARTIAL_REFUND, CANCELLED, TEST_ORDER, POS_ORDER]

PRODUCTS = [
    {
        "id": 9100000000001,
        "title": "Tagesrucksack Alpsee 28 l",
        "body_html": "<p>Leicht, robust, wasserabweisend. 🏔️</p>",
        "vendor": "Alpenglück",
        "product_type": "Rucksäcke",
        "handle": "tagesrucksack-alpsee",
        "status": "active",
        "tags": "rucksack, wandern",
        "created_at": "2024-11-02T10:00:00+01:00",
        "updated_at": "2025-03-01T12:00:00+01:00",
        "published_at": "2024-11-02T10:05:00+01:00",
        "options": [{"name": "Farbe", "values": ["Blau", "Grün"]}],
        "variants": [
            {
                "id": 48100000000001,
                "product_id": 9100000000001,
                "title": "Blau",
                "sku": "ALP-RUCK-28-BLU",
                "barcode": "4006381333931",
                "price": "120.00",
                "compare_at_price": "139.00",
                "inventory_quantity": 37,
                "updated_at": "2025-03-01T12:00:00+01:00",
            },
            {
                "id": 48100000000002,
                "product_id": 9100000000001,
                "title": "Grün",
                "sku": "",
                "barcode": None,
                "price": "120.00",
                "compare_at_price": None,
                "inventory_quantity": 0,
                "updated_at": "2025-02-01T12:00:00+01:00",
            },
        ],
    },
    {
        "id": 9100000000006,
        "title": "登山用ソックス 🧦",
        "vendor": "",
        "product_type": "",
        "handle": "tozan-socks",
        "status": "archived",
        "created_at": "2024-01-10T10:00:00+01:00",
        "updated_at": "2025-03-02T08:00:00Z",
        "published_at": None,
        "variants": [
            {
                "id": 48100000000061,
                "product_id": 9100000000006,
                "title": "Default Title",
                "sku": None,
                "barcode": "",
                "price": "9.90",
            }
        ],
    },
]

CUSTOMERS = [
    {
        "id": 7788000000012,
        "email": "lea.zuercher@example.ch",
        "first_name": "Léa",
        "last_name": "Zürcher",
        "phone": "+41791234567",
        "state": "enabled",
        "verified_email": True,
        "tags": "newsletter",
        "note": "Stammkundin",
        "currency": "EUR",
        "orders_count": 4,
        "total_spent": "512.40",
        "last_order_id": 6123400000042,
        "last_order_name": "#2042",
        "created_at": "2023-06-01T09:00:00+02:00",
        "updated_at": "2025-03-14T16:21:40+01:00",
        "addresses": [{"address1": "Seestrasse 1", "city": "Zürich"}],
        "default_address": {"address1": "Seestrasse 1", "city": "Zürich"},
        "multipass_identifier": None,
        "admin_graphql_api_id": "gid://shopify/Customer/7788000000012",
    },
    {
        "id": 7788000000099,
        "email": None,
        "first_name": None,
        "last_name": None,
        "state": "disabled",
        "orders_count": 1,
        "total_spent": "79.40",
        "created_at": "2025-03-20T10:00:02+01:00",
        "updated_at": "2025-03-27T09:30:00+01:00",
    },
]

#: Text of personal data in the samples; none of it may leave the connector.
PERSONAL_VALUES = (
    "lea.zuercher@example.ch",
    "Zürcher",
    "Léa",
    "+41 79 123 45 67",
    "+41791234567",
    "192.0.2.41",
    "Seestrasse",
    "8002",
    "sam.o'neill@example.com",
    "O'Neill",
    "2001:db8::7",
    "jan@example.de",
    "Ñúñez",
    "Hauptstr",
    "qa+test@alpenglueck.example",
    "9f86d081884c7d659a2feaa0c55ad015",
    "authenticate?key",
    "Stammkundin",
)


def fresh(value: Any) -> Any:
    """A deep copy, so a test can change a sample without affecting the others."""
    return copy.deepcopy(value)
