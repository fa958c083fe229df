"""A fast local fake of Shopify's REST Admin API orders endpoint, for the sync benchmark.

The Shopify sandbox (``connectors/shopify/sandbox``) imitates a shop as
faithfully as it can; this fake imitates only what a bulk order sync touches
and is built to never be the bottleneck of the client it serves:

- order ``i`` is a pure function of ``(seed, i)``: any page is built on
  request without building the orders before it, and memory stays flat at
  any N. To write JSON fast, each order takes one of :data:`SHAPES`
  pre-serialized templates per seed (lines, money, fate, customer, notes:
  ~20 MB, built at start) and fills in its own ids, timestamps and tokens;
- while the client works on a page, the next one is built in a background
  thread (one page ahead), so a sequential client waits only for the
  transfer;
- ``updated_at`` strictly increases with ``i`` (one slot of 60 s per order),
  so ``updated_at_min`` is an index computed in O(1), never a scan;
- paging is Shopify's: an opaque ``page_info`` in an absolute ``Link``
  header URL (``rel="previous"`` and ``rel="next"``), a ``page_info`` request
  carrying a filter is refused with 400, ``limit`` defaults to 50 and tops
  out at 250, ``status`` defaults to ``open``;
- ``X-Shopify-Access-Token`` is required (401 with Shopify's body), every
  answer carries ``X-Shopify-Shop-Api-Call-Limit`` (always an idle bucket,
  ``1/40``: the fake does not simulate the leaky bucket, so clients run at
  full speed) and a 429 with ``Retry-After`` can be injected every K-th
  request.

``GET /_bench/stats`` (no token) counts what was served, so a harness can
tell how many requests a re-sync made. :func:`expected_totals` gives the
order, line-item and quantity totals of ``(orders, seed)`` without HTTP.

    .venv/bin/python bench/fake_shopify.py --port 0 --orders 20000 --seed 1
"""

from __future__ import annotations

import argparse
import base64
import binascii
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from hub.sandbox import LoopbackServer, Reply, serve_until_signal

DEFAULT_TOKEN = "shpat_bench0000000000000000000000000"
SHOP = "bench-shop"
SHOP_CURRENCY = "EUR"
#: The shop's UTC offset: every timestamp is written with it, as Shopify does.
SHOP_TZ = timezone(timedelta(hours=1))
#: Order 0's updated_at slot; order i's is ``BASE_TS + i * SLOT`` plus 0..49 s.
BASE_TS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
SLOT = 60
#: Every timestamp is before this anchor (so at most this many orders fit).
ANCHOR_TS = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
MAX_ORDERS = (ANCHOR_TS - BASE_TS) // SLOT
MAX_LIMIT = 250
DEFAULT_LIMIT = 50
PAGE_INFO_COMPANIONS = frozenset({"page_info", "limit", "fields"})
STATUSES = ("open", "closed", "cancelled", "any")
ORDER_ID_BASE = 6_123_400_000_000
LINE_ID_BASE = 16_200_000_000_000
CUSTOMER_ID_BASE = 7_788_000_000_000
REFUND_ID_BASE = 9_300_000_000_000
UNAUTHORIZED = (
    b'{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}'
)
THROTTLED = (
    b'{"errors":"Exceeded 2 calls per second for api client. '
    b'Reduce request rates to resume uninterrupted service."}'
)


# --------------------------------------------------------------------------- data


class Product(NamedTuple):
    product_id: int | None
    variant_id: int | None
    sku: str | None
    title: str
    variant_title: str | None
    vendor: str
    cents: int
    grams: int


def _catalogue() -> tuple[Product, ...]:
    """Forty fixed variants; a few without SKU and two custom items (no product)."""
    names = (
        ("Tagesrucksack Alpsee 28 l", "ALP-RUCK-28", 12000),
        ("Wanderstock Carbon", "ALP-STOCK-C", 7990),
        ("Trinkflasche 0,75 l", "ALP-FLASCHE", 1990),
        ("Softshelljacke Föhn", "ALP-SOFT-F", 14900),
        ("Merino-Socken Gipfel", "ALP-SOCK-M", 1695),
        ("Stirnlampe 400 lm", "ALP-LAMP-4", 3450),
        ("Regenhülle Rucksack", "ALP-RAIN", 1250),
        ("Thermobecher Zirbe", "ALP-BECHER", 2490),
    )
    colours = ("Blau", "Grün", "Rot", "Schwarz", "Grau")
    out = []
    for n, (title, sku, cents) in enumerate(names):
        for m, colour in enumerate(colours):
            k = n * len(colours) + m
            code: str | None = f"{sku}-{colour[:3].upper()}"
            if k % 13 == 7:
                code = ""
            elif k % 17 == 11:
                code = None
            custom = k in (19, 33)
            out.append(
                Product(
                    None if custom else 9_100_000_000_000 + n,
                    None if custom else 48_100_000_000_000 + k,
                    code,
                    title,
                    colour,
                    "Alpenglück",
                    cents + 100 * m,
                    200 + 37 * k,
                )
            )
    return tuple(out)


CATALOGUE = _catalogue()
_QUANTITIES = (1, 1, 1, 1, 1, 2, 2, 3)
#: 1-5 lines, most orders small (35% one line, 5% five): 2.2 on average.
_LINE_COUNTS = (1,) * 7 + (2,) * 6 + (3,) * 4 + (4,) * 2 + (5,)
_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
)
_PEOPLE = (
    ("Léa", "Zürcher", "Zürich", "8004", "CH", "Zürich", "ZH"),
    ("Jonas", "Müller", "München", "80331", "DE", "Bavaria", "BY"),
    ("Anna", "Gruber", "Innsbruck", "6020", "AT", "Tyrol", "7"),
    ("Lukas", "Weiß", "Köln", "50667", "DE", "North Rhine-Westphalia", "NW"),
    ("Sophie", "Schmid", "Graz", "8010", "AT", "Styria", "6"),
    ("Noah", "Keller", "Bern", "3011", "CH", "Bern", "BE"),
)
_COUNTRY = {"CH": "Switzerland", "DE": "Germany", "AT": "Austria"}


#: Distinct order shapes per seed (lines, money, fate, channel, customer, notes). Order i
#: takes shape ``mix(seed, i) % SHAPES`` and fills in its own ids, times and tokens.
SHAPES = 4096
_MASK = (1 << 64) - 1


def mix64(value: int) -> int:
    """splitmix64's finalizer: a well-spread 64-bit hash of ``value``."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _fate(u: float) -> str:
    if u < 0.03:
        return "cancelled"
    if u < 0.09:
        return "partially_refunded"
    if u < 0.13:
        return "pending"
    if u < 0.55:
        return "open"
    return "fulfilled"


def _status_of(fate: str) -> str:
    """Shopify's ``status`` filter value of an order with ``fate``."""
    if fate == "cancelled":
        return "cancelled"
    return "closed" if fate in ("fulfilled", "partially_refunded") else "open"


def updated_ts(seed: int, i: int) -> int:
    """Order ``i``'s updated_at (epoch s): strictly increasing in ``i``, 0..49 s into its slot."""
    return BASE_TS + i * SLOT + ((i * 2654435761 + seed * 40503) >> 7) % 50


def first_index_at_or_after(seed: int, ts: int, orders: int) -> int:
    """The first order whose updated_at >= ``ts`` (``orders`` if none): O(1)."""
    if ts <= BASE_TS:
        return 0
    i = (ts - BASE_TS) // SLOT
    if i >= orders:
        return orders
    return i if updated_ts(seed, i) >= ts else i + 1


def stamp(ts: int) -> str:
    """Epoch seconds as Shopify writes them: ISO 8601 in the shop's offset (+01:00)."""
    day, second = divmod(ts + 3600, 86400)
    return f"{_day(day)}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+01:00"


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


def _m(cents: int) -> str:
    return "%.2f" % (cents / 100)


def _set(cents: int, pcents: int, pcur: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": _m(cents), "currency_code": SHOP_CURRENCY},
        "presentment_money": {"amount": _m(pcents), "currency_code": pcur},
    }


def _pc(cents: int, pcur: str) -> int:
    """Shop cents in presentment cents (CHF at a fixed 0.94)."""
    return cents if pcur == SHOP_CURRENCY else round(cents * 0.94)


class Shape(NamedTuple):
    """One order shape: a JSON template with ``%(name)`` holes for what each order owns."""

    template: bytes
    lines: int
    quantity: int
    status: str
    created_before: int  # seconds between created_at and updated_at


# The holes of a template: written into the JSON as sentinels, then turned into
# ``%(name)d`` / ``%(name)s`` once the JSON text is complete (and its own % escaped).
_INT_HOLES = (
    "oid", "number", "num", "line0", "line1", "line2", "line3", "line4",
    "ship", "refund", "refund1", "refund2", "clickts", "test",
)  # fmt: skip
_STR_HOLES = ("token", "conf", "rtoken", "created", "updated", "ccreated")


def _hole(name: str) -> str:
    return f"@@{name}@@"


def _shape(seed: int, t: int) -> Shape:
    """Shape ``t`` of the shop ``seed``: every value of an order but its ids, times and tokens."""
    rng = random.Random((seed << 32) ^ t)
    rand = rng.random
    n_lines = _LINE_COUNTS[int(rand() * len(_LINE_COUNTS))]
    lines = [(int(rand() * len(CATALOGUE)), _QUANTITIES[int(rand() * 8)]) for _ in range(n_lines)]
    fate = _fate(rand())
    created_before = 30 + int(rand() * (7200 if fate in ("pending", "open") else 3 * 86400))
    pcur = "CHF" if rand() < 0.15 else SHOP_CURRENCY
    percent = rand() < 0.2
    fulfilled = fate == "fulfilled"
    channel = rand()
    source = "pos" if channel < 0.08 else "iphone" if channel < 0.12 else "web"
    pos = source == "pos"
    person = int(rand() * len(_PEOPLE))
    customer_no = int(rand() * 20000)
    click_where = rand()
    gift = rand() < 0.1

    items = []
    lines_total = discount_total = tax_total = weight = 0
    for k, (p, quantity) in enumerate(lines):
        product = CATALOGUE[p]
        gross = product.cents * quantity
        discount = gross // 10 if percent else 0
        tax = round((gross - discount) * 19 / 119)
        lines_total += gross
        discount_total += discount
        tax_total += tax
        weight += product.grams * quantity
        line_id = _hole(f"line{k}")
        items.append(
            {
                "id": line_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "product_id": product.product_id,
                "variant_id": product.variant_id,
                "sku": product.sku,
                "title": product.title,
                "variant_title": product.variant_title,
                "name": f"{product.title} - {product.variant_title}",
                "vendor": product.vendor,
                "quantity": quantity,
                "fulfillable_quantity": 0 if fulfilled else quantity,
                "fulfillment_status": "fulfilled" if fulfilled else None,
                "price": _m(product.cents),
                "price_set": _set(product.cents, _pc(product.cents, pcur), pcur),
                "discount_allocations": [
                    {
                        "amount": _m(discount),
                        "amount_set": _set(discount, _pc(discount, pcur), pcur),
                        "discount_application_index": 0,
                    }
                ]
                if discount
                else [],
                "tax_lines": [
                    {"title": "MwSt", "price": _m(tax), "rate": 0.19, "channel_liable": False}
                ],
                "requires_shipping": True,
                "grams": product.grams,
            }
        )
    subtotal = lines_total - discount_total
    shipping = 0 if subtotal >= 5000 else 490
    total = subtotal + shipping
    tax_total += round(shipping * 19 / 119)

    first, last, city, zip_code, country, province, province_code = _PEOPLE[person]
    email = f"{first.lower()}.{last.lower()}.{customer_no}@example.com"
    note_attributes = []
    landing = "/products/tagesrucksack-alpsee"
    if not pos:
        click = f"15880_{_hole('clickts')}_{_hole('rtoken')}"
        if click_where < 0.35:
            note_attributes.append({"name": "awc", "value": click})
            landing += f"?awc={click}&utm_source=awin&utm_medium=affiliate"
        elif click_where < 0.45:
            landing += f"?awc={click}"
        elif click_where < 0.6:
            landing += "?utm_source=google&utm_medium=cpc"
    if gift:
        note_attributes.append({"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"})
    address = {
        "first_name": first,
        "last_name": last,
        "address1": f"Bahnhofstrasse {1 + customer_no % 90}",
        "city": city,
        "zip": zip_code,
        "province": province,
        "province_code": province_code,
        "country": _COUNTRY[country],
        "country_code": country,
        "phone": None,
    }
    customer_id = CUSTOMER_ID_BASE + customer_no
    refunds = []
    current_total = total
    financial = {"pending": "pending", "open": "paid", "fulfilled": "paid"}.get(fate, "refunded")
    cancelled_at = cancel_reason = closed_at = None
    updated = _hole("updated")
    if fate == "partially_refunded":
        financial = "partially_refunded"
        amount = CATALOGUE[lines[0][0]].cents
        current_total = total - amount
        refunds.append(_refund(1, amount, _pc(amount, pcur), pcur, "return"))
        closed_at = updated
    elif fate == "cancelled":
        current_total = 0
        cancelled_at = updated
        cancel_reason = "customer"
        refunds.append(_refund(lines[0][1], total, _pc(total, pcur), pcur, "cancel"))
    elif fulfilled:
        closed_at = updated
    order = {
        "id": _hole("oid"),
        "admin_graphql_api_id": f"gid://shopify/Order/{_hole('oid')}",
        "name": f"#{_hole('number')}",
        "order_number": _hole("number"),
        "number": _hole("num"),
        "token": _hole("token"),
        "confirmation_number": _hole("conf"),
        "email": "" if pos else email,
        "phone": None,
        "created_at": _hole("created"),
        "updated_at": updated,
        "processed_at": _hole("created"),
        "cancelled_at": cancelled_at,
        "cancel_reason": cancel_reason,
        "closed_at": closed_at,
        "confirmed": True,
        "test": _hole("test"),
        "financial_status": financial,
        "fulfillment_status": "fulfilled" if fate in ("fulfilled", "partially_refunded") else None,
        "source_name": source,
        "location_id": 71_000_000_001 if pos else None,
        "tags": "",
        "note": None,
        "note_attributes": note_attributes,
        "currency": SHOP_CURRENCY,
        "presentment_currency": pcur,
        "taxes_included": True,
        "total_line_items_price": _m(lines_total),
        "total_discounts": _m(discount_total),
        "subtotal_price": _m(subtotal),
        "total_shipping_price_set": _set(shipping, _pc(shipping, pcur), pcur),
        "total_tax": _m(tax_total),
        "total_price": _m(total),
        "total_price_set": _set(total, _pc(total, pcur), pcur),
        "current_total_price": _m(current_total),
        "total_outstanding": _m(total if fate == "pending" else 0),
        "total_weight": weight,
        "payment_gateway_names": ["cash"] if pos else ["shopify_payments"],
        "discount_codes": [{"code": "SPRING10", "amount": _m(discount_total), "type": "percentage"}]
        if percent
        else [],
        "landing_site": None if pos else landing,
        "referring_site": "https://www.awin1.com/" if click_where < 0.45 and not pos else "",
        "client_details": None
        if pos
        else {
            "accept_language": "de-CH,de;q=0.9",
            "browser_ip": f"192.0.2.{1 + customer_no % 250}",
            "browser_height": None,
            "browser_width": None,
            "session_hash": None,
            "user_agent": _AGENTS[customer_no % len(_AGENTS)],
        },
        "customer": None
        if pos
        else {
            "id": customer_id,
            "email": email,
            "first_name": first,
            "last_name": last,
            "state": "disabled",
            "verified_email": True,
            "tags": "",
            "currency": SHOP_CURRENCY,
            "created_at": _hole("ccreated"),
            "updated_at": _hole("created"),
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        },
        "billing_address": None if pos else address,
        "shipping_address": None if pos else address,
        "shipping_lines": []
        if pos
        else [
            {
                "id": _hole("ship"),
                "title": "Standard",
                "code": "Standard",
                "source": "shopify",
                "price": _m(shipping),
                "price_set": _set(shipping, _pc(shipping, pcur), pcur),
                "discounted_price": _m(shipping),
                "tax_lines": [],
                "discount_allocations": [],
            }
        ],
        "line_items": items,
        "refunds": refunds,
    }
    text = orjson.dumps(order).decode().replace("%", "%%")
    for name in _INT_HOLES:  # a number: the quotes around its sentinel go too
        text = text.replace(f'"{_hole(name)}"', f"%({name})d").replace(_hole(name), f"%({name})d")
    for name in _STR_HOLES:
        text = text.replace(_hole(name), f"%({name})s")
    # "test" is a JSON boolean: true/false is filled in as text.
    text = text.replace("%(test)d", "%(test)s")
    return Shape(text.encode(), n_lines, sum(q for _, q in lines), _status_of(fate), created_before)


def _refund(quantity: int, cents: int, pcents: int, pcur: str, restock: str) -> dict[str, Any]:
    tax = round(cents * 19 / 119)
    updated = _hole("updated")
    return {
        "id": _hole("refund"),
        "order_id": _hole("oid"),
        "admin_graphql_api_id": f"gid://shopify/Refund/{_hole('refund')}",
        "created_at": updated,
        "processed_at": updated,
        "note": None,
        "restock": True,
        "user_id": None,
        "refund_line_items": [
            {
                "id": _hole("refund1"),
                "line_item_id": _hole("line0"),
                "quantity": quantity,
                "restock_type": restock,
                "location_id": None,
                "subtotal": round((cents - tax) / 100, 2),
                "subtotal_set": _set(cents - tax, pcents - _pc(tax, pcur), pcur),
                "total_tax": round(tax / 100, 2),
                "total_tax_set": _set(tax, _pc(tax, pcur), pcur),
            }
        ],
        "transactions": [
            {
                "id": _hole("refund2"),
                "order_id": _hole("oid"),
                "kind": "refund",
                "status": "success",
                "amount": _m(pcents),
                "currency": pcur,
                "gateway": "shopify_payments",
                "processed_at": updated,
                "created_at": updated,
                "test": False,
            }
        ],
        "order_adjustments": [],
    }


@lru_cache(maxsize=8)
def shapes(seed: int) -> tuple[Shape, ...]:
    """The order shapes of the shop ``seed`` (about 20 MB; built once per seed, ~1 s)."""
    return tuple(_shape(seed, t) for t in range(SHAPES))


def shape_index(seed: int, i: int) -> int:
    return mix64((seed << 40) ^ i) % SHAPES


def order_json(seed: int, i: int) -> bytes:
    """Order ``i`` of the shop ``seed`` as REST JSON (apis.md 1.8), roughly 2-4 KB.

    A pure function of ``(seed, i)``: the same bytes in any process, and no
    other order is built to make it. The order's shape (lines, money, fate,
    customer) is one of :data:`SHAPES` templates; its ids, timestamps and
    tokens are its own.
    """
    shape = shapes(seed)[shape_index(seed, i)]
    oid = ORDER_ID_BASE + i
    number = 1001 + i
    updated = updated_ts(seed, i)
    created = updated - shape.created_before
    h = mix64(oid ^ (seed << 48))
    token = b"%016x%016x" % (h, mix64(h))
    line = LINE_ID_BASE + i * 8
    refund = REFUND_ID_BASE + i * 4
    return shape.template % {
        b"oid": oid,
        b"number": number,
        b"num": number - 1000,
        b"line0": line,
        b"line1": line + 1,
        b"line2": line + 2,
        b"line3": line + 3,
        b"line4": line + 4,
        b"ship": 4_560_000_000_000 + i,
        b"refund": refund,
        b"refund1": refund + 1,
        b"refund2": refund + 2,
        b"clickts": created - 60 - h % 86400,
        b"test": b"true" if i % 97 == 13 else b"false",
        b"token": token,
        b"conf": token[:9].upper(),
        b"rtoken": token[::-1],
        b"created": stamp(created).encode(),
        b"updated": stamp(updated).encode(),
        b"ccreated": stamp(created - (h >> 20) % (400 * 86400)).encode(),
    }


def build_order(seed: int, i: int) -> dict[str, Any]:
    """Order ``i`` as a dict (what a client parses from :func:`order_json`)."""
    result: dict[str, Any] = orjson.loads(order_json(seed, i))
    return result


def order_status(seed: int, i: int) -> str:
    """``open``, ``closed`` or ``cancelled``: what Shopify's ``status`` filter sees."""
    return shapes(seed)[shape_index(seed, i)].status


class Totals(NamedTuple):
    """What a complete load of the shop must contain."""

    orders: int
    line_items: int
    quantity: int


def expected_totals(orders: int, seed: int) -> Totals:
    """Orders, line items and the sum of line quantities of ``orders`` orders, without HTTP."""
    table = shapes(seed)
    line_items = quantity = 0
    for i in range(orders):
        shape = table[shape_index(seed, i)]
        line_items += shape.lines
        quantity += shape.quantity
    return Totals(orders, line_items, quantity)


# --------------------------------------------------------------------------- paging


class BadRequest(Exception):
    def __init__(self, errors: Any) -> None:
        super().__init__(str(errors))
        self.errors = errors


def encode_token(cursor: dict[str, Any]) -> str:
    """An opaque page_info, base64url JSON like Shopify's (``eyJ...``)."""
    return base64.urlsafe_b64encode(orjson.dumps(cursor)).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        cursor = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise BadRequest({"page_info": "Invalid value."}) from None
    if not isinstance(cursor, dict) or cursor.get("direction") not in ("next", "previous"):
        raise BadRequest({"page_info": "Invalid value."})
    return cursor


def parse_instant(text: str) -> int:
    """ISO 8601 (a date alone, or no offset: the shop's offset) as epoch seconds."""
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise BadRequest({"updated_at": f"is not an ISO 8601 timestamp: {text!r}"}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHOP_TZ)
    return int(value.timestamp())


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _limit(params: dict[str, list[str]]) -> int:
    value = _one(params, "limit")
    if not value:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest({"limit": "Invalid value."}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest({"limit": f"must be between 1 and {MAX_LIMIT}"})
    return limit


# --------------------------------------------------------------------------- server


class _Served(NamedTuple):
    """One page of orders as answered: the body and the query strings of its links."""

    body: bytes
    orders: int
    previous: str | None
    following: str | None


class FakeShopify(LoopbackServer):
    """The fake shop of ``orders`` orders on 127.0.0.1, served from a thread.

    ``with FakeShopify(1000) as shop: httpx.get(shop.url + "/admin/api/...")``
    """

    thread_name = "fake-shopify"
    server_name = "FakeShopify"

    def __init__(
        self,
        orders: int,
        seed: int = 1,
        *,
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        inject_429_every: int = 0,
        retry_after: float = 1.0,
        prefetch: bool = True,
        latency: float = 0.0,
    ) -> None:
        if not 0 <= orders <= MAX_ORDERS:
            raise ValueError(f"orders must be between 0 and {MAX_ORDERS}")
        self.orders, self.seed, self.token = orders, seed, token
        self.inject_429_every, self.retry_after = inject_429_every, retry_after
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "throttled": 0, "unauthorized": 0, "bad": 0, "orders": 0}
        self._api_calls = 0
        self.prefetch = prefetch
        #: seconds every orders page waits before it is answered: a remote API's round
        #: trip (Shopify's REST answers take 0.1-0.5 s), which a sequential client waits
        #: out and a client reading ahead overlaps with its own work
        self.latency = latency
        self._ahead: tuple[str, Future[_Served]] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-shopify-ahead")
        shapes(seed)  # built now (about 1 s), not on the first request
        self._listen(port)

    def stop(self) -> None:
        super().stop()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def respond(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        if path == "/_bench/stats":
            with self._lock:
                return Reply(200, orjson.dumps(self.stats))
        with self._lock:
            self._api_calls += 1
            self.stats["requests"] += 1
            throttle = self.inject_429_every > 0 and self._api_calls % self.inject_429_every == 0
        common: tuple[tuple[str, str], ...] = (
            ("X-Shopify-Shop-Api-Call-Limit", "1/40"),
            ("X-Request-Id", f"bench-{id(parts)}"),
        )
        if headers.get("X-Shopify-Access-Token") != self.token:
            self._count("unauthorized")
            return Reply(401, UNAUTHORIZED, common)
        if throttle:
            self._count("throttled")
            retry = (("Retry-After", f"{self.retry_after:.1f}"),)
            return Reply(429, THROTTLED, common + retry)
        segments = path.split("/")
        # ["", "admin", "api", "{version}", "orders.json"]
        if len(segments) != 5 or segments[1:3] != ["admin", "api"] or method != "GET":
            return Reply(404, b'{"errors":"Not Found"}', common)
        version, resource = segments[3], segments[4]
        common += (("X-Shopify-API-Version", version),)
        if resource == "shop.json":
            return Reply(200, orjson.dumps({"shop": self.shop()}), common)
        if resource != "orders.json":
            return Reply(404, b'{"errors":"Not Found"}', common)
        try:
            served = self._served(parts.query)
        except BadRequest as bad:
            self._count("bad")
            return Reply(400, orjson.dumps({"errors": bad.errors}), common)
        with self._lock:
            self.stats["orders"] += served.orders
        host = headers.get("Host") or self.url.removeprefix("http://")
        links = [
            f'<http://{host}{path}?{query}>; rel="{rel}"'
            for rel, query in (("previous", served.previous), ("next", served.following))
            if query is not None
        ]
        if served.following is not None and self.prefetch:
            self._ahead = (served.following, self._executor.submit(self._build, served.following))
        if links:
            common += (("Link", ", ".join(links)),)
        if self.latency > 0:
            time.sleep(self.latency)
        return Reply(200, served.body, common)

    def _served(self, query: str) -> _Served:
        """The page a query string asks for: built ahead while the client was busy, or now.

        After answering a page the server starts building the next one in a
        background thread (one page ahead, so memory stays flat): a sequential
        client never waits for the fake's own work, only for the transfer.
        """
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == query:
            return ahead[1].result()
        return self._build(query)

    def _build(self, query: str) -> _Served:
        params = parse_qs(query, keep_blank_values=True)
        positions, previous, following, limit, fields = self.page(params)
        seed = self.seed
        if fields:
            records = [orjson.loads(order_json(seed, i)) for i in positions]
            chunks = [orjson.dumps({k: r[k] for k in fields if k in r}) for r in records]
        else:
            chunks = [order_json(seed, i) for i in positions]

        def link(cursor: dict[str, Any] | None) -> str | None:
            if cursor is None:
                return None
            query: dict[str, Any] = {"limit": limit}
            if fields:
                query["fields"] = ",".join(fields)
            query["page_info"] = encode_token(cursor)
            return urlencode(query)

        body = b'{"orders":[' + b",".join(chunks) + b"]}"
        return _Served(body, len(chunks), link(previous), link(following))

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def failure(self, error: Exception) -> Reply:
        return Reply(500, b'{"errors":"Internal Server Error"}')

    def shop(self) -> dict[str, Any]:
        return {
            "id": 55_000_000_001,
            "name": "Bench Shop",
            "myshopify_domain": f"{SHOP}.myshopify.com",
            "currency": SHOP_CURRENCY,
            "iana_timezone": "Europe/Berlin",
            "timezone": "(GMT+01:00) Europe/Berlin",
            "money_format": "€{{amount_with_comma_separator}}",
            "enabled_presentment_currencies": [SHOP_CURRENCY, "CHF"],
            "plan_name": "basic",
        }

    def page(
        self, params: dict[str, list[str]]
    ) -> tuple[list[int], dict[str, Any] | None, dict[str, Any] | None, int, list[str]]:
        """The positions of one page and the cursors of its previous and next links."""
        limit = _limit(params)
        fields = [f.strip() for f in (_one(params, "fields") or "").split(",") if f.strip()]
        token = _one(params, "page_info")
        if token is not None:
            extra = sorted(set(params) - PAGE_INFO_COMPANIONS)
            if extra:
                raise BadRequest(
                    {
                        "page_info": f"Invalid value: cannot be combined with {', '.join(extra)}; "
                        "a page_info URL already carries the filters of the first request"
                    }
                )
            cursor = decode_token(token)
            query = cursor["query"]
            direction, after = cursor["direction"], int(cursor["last_id"]) - ORDER_ID_BASE
        else:
            query = self._query(params)
            direction, after = "next", None
        lo, hi, status, descending = query["lo"], query["hi"], query["status"], query["desc"]
        match = None if status == "any" else self._status_match(status)
        # Walk in the listing's order ("next") or against it ("previous").
        up = (direction == "next") != descending
        # Start at the listing's end, or at the first position beyond the cursor's record.
        step = 1 if up else -1
        start = (lo if up else hi - 1) if after is None else after + step
        found = list(self._walk(start, lo, hi, up, limit + 1, match))
        more = len(found) > limit
        found = found[:limit]
        if direction == "previous":
            found.reverse()
        if not found:
            return found, None, None, limit, fields

        def cursor_at(position: int, rel: str) -> dict[str, Any]:
            return {
                "direction": rel,
                "last_id": ORDER_ID_BASE + position,
                "last_value": stamp(updated_ts(self.seed, position)),
                "query": query,
            }

        first_page = after is None
        if direction == "next":
            previous = None if first_page else cursor_at(found[0], "previous")
            following = cursor_at(found[-1], "next") if more else None
        else:
            previous = cursor_at(found[0], "previous") if more else None
            following = cursor_at(found[-1], "next")
        return found, previous, following, limit, fields

    def _query(self, params: dict[str, list[str]]) -> dict[str, Any]:
        status = _one(params, "status") or "open"
        if status not in STATUSES:
            raise BadRequest({"status": f"must be one of {', '.join(STATUSES)}"})
        order = (_one(params, "order") or "id asc").split()
        if len(order) not in (1, 2) or order[0] not in ("id", "updated_at"):
            raise BadRequest({"order": "the fake sorts by id or updated_at (asc or desc) only"})
        descending = len(order) == 2 and order[1] == "desc"
        lo, hi = 0, self.orders
        minimum, maximum = _one(params, "updated_at_min"), _one(params, "updated_at_max")
        if minimum:
            lo = first_index_at_or_after(self.seed, parse_instant(minimum), self.orders)
        if maximum:
            hi = first_index_at_or_after(self.seed, parse_instant(maximum) + 1, self.orders)
        since = _one(params, "since_id")
        if since:
            try:
                lo = max(lo, min(self.orders, int(since) - ORDER_ID_BASE + 1))
            except ValueError:
                raise BadRequest({"since_id": "Invalid value."}) from None
        return {"status": status, "lo": lo, "hi": hi, "desc": descending}

    def _status_match(self, status: str) -> Callable[[int], bool]:
        seed = self.seed

        def match(i: int) -> bool:
            return order_status(seed, i) == status

        return match

    @staticmethod
    def _walk(
        start: int, lo: int, hi: int, up: bool, wanted: int, match: Callable[[int], bool] | None
    ) -> Iterator[int]:
        positions = range(max(start, lo), hi) if up else range(min(start, hi - 1), lo - 1, -1)
        if match is None:
            yield from positions[:wanted]
            return
        for i in positions:
            if match(i):
                yield i
                wanted -= 1
                if not wanted:
                    return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--inject-429-every", type=int, default=0, metavar="K")
    parser.add_argument("--retry-after", type=float, default=1.0, metavar="SEC")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SEC", help="delay of every orders page"
    )
    args = parser.parse_args(argv)
    return serve_until_signal(
        lambda: FakeShopify(
            args.orders,
            args.seed,
            port=args.port,
            token=args.token,
            inject_429_every=args.inject_429_every,
            retry_after=args.retry_after,
            latency=args.latency,
        ),
        lambda server: server.url,
        "Fake Shopify",
    )


if __name__ == "__main__":
    sys.exit(main())
