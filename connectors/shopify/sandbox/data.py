"""Deterministic orders: order ``i`` is a pure function of ``(seed, i)``, built only when asked.

Two levels, so 100,000 orders cost nothing up front:

- :meth:`ShopData.facts` is cheap (two hashes, no objects): when order ``i``
  was created and last updated, whether it is closed or cancelled, its
  channel and fate. The server indexes these to filter and sort.
- :meth:`ShopData.order` builds the full REST order (apis.md 1.8) from its own
  random stream: line items with discount allocations and tax lines, several
  discount codes, note attributes with partner click ids, client details,
  refunds with transactions in presentment currency (:mod:`.refunds`),
  fulfilments.

Money is computed in integer cents, every component in shop currency (EUR)
and in presentment currency (EUR, CHF or GBP at the day's rate), and every
total is the sum of its components *in each currency*, so the figures add up
the way they do in a real shop.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from .basics import (
    EPOCH_TS,
    LOCATION_ID,
    ORDER_ID_BASE,
    POS_LOCATION_ID,
    SHOP_CURRENCY,
    SHOP_DOMAIN,
    SHOP_ID,
    STAFF_USER_ID,
    exchange_rate,
    mix64,
    money,
    money_set,
    pick,
    ratio,
    rng,
    shop_time,
)
from .catalogue import Variant, catalogue
from .people import COUNTRIES, Person, customer_json, person
from .refunds import Line, build_refund
from .sessions import alnum_token, hex_token, web_session

LINE_ID_BASE = 16_200_000_000_000
FULFILLMENT_ID_BASE = 5_120_000_000_000
SHIPPING_LINE_ID_BASE = 4_560_000_000_000
CHECKOUT_ID_BASE = 37_000_000_000_000
FIRST_ORDER_NUMBER = 1001

#: Seconds between two consecutive orders' slots: 100,000 orders span about a year.
ORDER_SPACING = 317
_RETURN_GAP = 4  # a returning customer's previous order is at least this many orders back
DAY = 86_400

FATES = (
    "pending",  # awaiting payment (bank transfer), open
    "open",  # paid or authorised, not yet fulfilled, open
    "fulfilled",  # paid, shipped and archived (closed)
    "partially_refunded",  # shipped, then part of it refunded (closed)
    "refunded",  # shipped, then all of it returned and refunded (closed)
    "voided",  # cancelled before capture: no money moved (closed)
    "cancelled_refunded",  # cancelled after payment: all money refunded (closed)
)
_FATE_THRESHOLDS = (
    (0.03, "voided"),
    (0.05, "cancelled_refunded"),
    (0.11, "partially_refunded"),
    (0.13, "refunded"),
    (0.17, "pending"),
    (0.55, "open"),
    (1.01, "fulfilled"),
)
_FINANCIAL = {
    "pending": "pending",
    "open": "paid",
    "fulfilled": "paid",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "voided",
    "cancelled_refunded": "refunded",
}
_CHANNELS = {  # source_name, app_id
    "web": ("web", 580111),
    "pos": ("pos", 129785),
    "draft": ("shopify_draft_order", 1354745),
}


class OrderFacts(NamedTuple):
    """What filtering and sorting need to know about one order, computed from two hashes."""

    order_index: int
    created: int  # epoch seconds
    updated: int
    closed: int | None
    cancelled: int | None
    fate: str
    channel: str  # web, pos or draft
    test: bool
    has_customer: bool


# --------------------------------------------------------------------------- text pools

_CODES: tuple[tuple[str, str, int], ...] = (
    ("SOMMER10", "percentage", 10),
    ("WILLKOMMEN15", "percentage", 15),
    ("TREUE5", "fixed_amount", 500),
    ("FRÜHJAHR8", "fixed_amount", 800),
    ("AWIN-NORDLICHT-12", "percentage", 12),
    ("BERGBLOG20", "percentage", 20),
    ("GRATISVERSAND", "shipping", 100),
)
_CUSTOM_ITEMS = (
    ("Geschenkverpackung 🎁", 390),
    ("Gravur „Für Oma“", 1500),
    ("Reparatur-Service", 2500),
)
_DISCONTINUED = ("ALT-STOCK-2023", "Wanderstock Classic (ausgelaufen)", 2990, 410)
_NOTES = (
    "Bitte ohne Rechnung im Paket 📦",
    "Geschenk – bitte neutral verpacken",  # noqa: RUF001
    "お急ぎでお願いします",
    "Danke! 😊",
    "Lieferung bitte nicht vor 17 Uhr.",
)
_WEB_GATEWAYS = ("shopify_payments", "shopify_payments", "paypal", "klarna")
_CANCEL_REASONS = ("customer", "declined", "fraud", "inventory", "other")


def _quantity(r: random.Random) -> int:
    x = r.random()
    return 1 if x < 0.7 else 2 if x < 0.9 else 3 if x < 0.97 else 4


@lru_cache(maxsize=2048)
def _tax_line(tax_s: int, tax_p: int, bp: int, presentment: str) -> dict[str, Any]:
    return {
        "channel_liable": False,
        "price": money(tax_s),
        "price_set": money_set(tax_s, tax_p, presentment),
        "rate": bp / 10_000,
        "title": "MwSt" if bp in (1900, 2000) else "VAT",
    }


def _catalogue_item(v: Variant) -> dict[str, Any]:
    """The part of a line item that comes from its variant (copied for every order)."""
    default = v.title == "Default Title"
    return {
        "product_id": v.product_id,
        "variant_id": v.id,
        "product_exists": True,
        "sku": v.sku,
        "title": v.product_title,
        "variant_title": None if default else v.title,
        "name": v.product_title if default else f"{v.product_title} - {v.title}",
        "vendor": v.vendor,
        "requires_shipping": v.requires_shipping,
        "taxable": v.taxable,
        "gift_card": v.gift_card,
        "grams": v.grams,
        "variant_inventory_management": None if v.gift_card else "shopify",
    }


def _off_catalogue_item(title: str, sku: str | None, grams: int, custom: bool) -> dict[str, Any]:
    """A custom item, or a product deleted since: no product or variant id."""
    return {
        "product_id": None,
        "variant_id": None,
        "product_exists": False,
        "sku": sku,
        "title": title,
        "variant_title": None,
        "name": title,
        "vendor": None if custom else "Nordlicht",
        "requires_shipping": not custom,
        "taxable": True,
        "gift_card": False,
        "grams": grams,
        "variant_inventory_management": None if custom else "shopify",
    }


class ShopData:
    """The sandbox shop's data for one seed: facts, orders, customers and products by index."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self._key = mix64(seed)
        self.products, self.variants = catalogue(seed)
        self._items = [_catalogue_item(v) for v in self.variants]
        self._people: dict[int, tuple[Person, dict[str, Any]]] = {}

    # ----------------------------------------------------------------------- ids

    @staticmethod
    def order_id(index: int) -> int:
        return ORDER_ID_BASE + index

    @staticmethod
    def order_index(order_id: int) -> int:
        return order_id - ORDER_ID_BASE

    # ----------------------------------------------------------------------- facts

    def facts(self, i: int) -> OrderFacts:
        """The cheap facts of order ``i`` (no JSON built)."""
        h1 = mix64(self._key ^ i)
        h2 = mix64(h1)
        u0, u1 = (h1 & 0xFFFF) / 65536, (h1 >> 16 & 0xFFFF) / 65536
        u2, u3 = (h1 >> 32 & 0xFFFF) / 65536, (h1 >> 48) / 65536
        v0, v2, v3 = (h2 & 0xFFFF) / 65536, (h2 >> 32 & 0xFFFF) / 65536, (h2 >> 48) / 65536
        created = EPOCH_TS + i * ORDER_SPACING + int(u0 * (ORDER_SPACING - 1))
        channel = "pos" if u2 < 0.08 else "draft" if u2 < 0.11 else "web"
        fate = next(name for limit, name in _FATE_THRESHOLDS if u1 < limit)
        if channel == "pos" and fate in ("pending", "open"):
            fate = "fulfilled"  # a shop sale is paid and handed over at once
        closed = cancelled = None
        if fate == "pending":
            updated = created + 5 + int(v2 * 55)
        elif fate == "open":
            updated = created + 20 + int(v2 * 880) + (int(v3 * DAY) if v3 < 0.3 else 0)
        elif fate == "fulfilled":
            closed = updated = created + (60 if channel == "pos" else DAY + int(v2 * 3 * DAY))
        elif fate in ("partially_refunded", "refunded"):
            closed = created + (60 if channel == "pos" else DAY + int(v2 * 2 * DAY))
            updated = closed + 2 * DAY + int(v3 * 18 * DAY)
        elif fate == "voided":
            cancelled = closed = updated = created + 600 + int(v2 * 2 * DAY)
        else:  # cancelled_refunded
            cancelled = closed = created + 3600 + int(v2 * 3 * DAY)
            updated = cancelled + 2
        return OrderFacts(
            order_index=i,
            created=created,
            updated=updated,
            closed=closed,
            cancelled=cancelled,
            fate=fate,
            channel=channel,
            test=channel == "web" and u3 < 0.025,
            has_customer=channel != "pos" or v0 < 0.25,
        )

    def customer_key(self, i: int) -> int | None:
        """The customer of order ``i``: the index of that customer's first order (None: no one).

        About a third of orders come from a returning customer: they point back
        to an earlier order and take its customer, so a customer's identity is
        the first order they placed, and no customer list is kept anywhere.
        """
        if not self._has_customer(i):
            return None
        current = i
        while current >= _RETURN_GAP:
            h = mix64(self._key ^ (current + (1 << 40)))
            if (h & 0xFFFF) / 65536 >= 0.35:
                break
            # at least _RETURN_GAP orders (over 15 minutes) after the order they come back from
            earlier = current - _RETURN_GAP - (h >> 16) % min(current - _RETURN_GAP + 1, 3000)
            if not self._has_customer(earlier):
                break
            current = earlier
        return current

    def _has_customer(self, i: int) -> bool:
        """``facts(i).has_customer``, from the same bits but without the rest of the facts."""
        h1 = mix64(self._key ^ i)
        return (h1 >> 32 & 0xFFFF) / 65536 >= 0.08 or (mix64(h1) & 0xFFFF) / 65536 < 0.25

    def person(self, key: int) -> tuple[Person, dict[str, Any]]:
        """Customer ``key`` (the index of their first order) and their JSON as orders embed it.

        Recent ones are cached; the JSON is shared between orders, so it must
        not be changed.
        """
        found = self._people.get(key)
        if found is None:
            if len(self._people) >= 4096:  # returning customers come back within ~3000 orders
                self._people.clear()
            p = person(self.seed, key, self.facts(key).created)
            found = self._people[key] = (p, customer_json(p, p.created))
        return found

    # ----------------------------------------------------------------------- orders

    def orders(self, count: int) -> Iterator[dict[str, Any]]:
        """Orders ``0 .. count-1`` in their first version, one at a time."""
        for i in range(count):
            yield self.order(i)

    def order(self, i: int, *, touched_at: int | None = None) -> dict[str, Any]:
        """Order ``i`` as ``GET /orders/{id}.json`` returns it (without the envelope).

        ``touched_at`` gives a later version of the same order: only
        ``updated_at`` and the tags change (staff edited it), as when an order
        is updated while a client pages through the list. Parts of the result
        (customer, addresses, money sets) are shared between orders: treat it
        as read-only.
        """
        f = self.facts(i)
        r = rng(self.seed, 1, i)
        key = self.customer_key(i)
        buyer, buyer_json = self.person(key) if key is not None else (None, None)
        country = buyer.country if buyer is not None else "DE"
        _, presentment, locale, tax_bp, _ = COUNTRIES[country]
        rate = exchange_rate(presentment, f.created)
        taxes_included = f.channel != "draft"
        tax_den = 10_000 + tax_bp if taxes_included else 10_000

        lines = self._lines(r, i, rate)
        ships = f.channel != "pos" and any(line.json["requires_shipping"] for line in lines)
        shipping_s = 0
        if ships:
            goods = 0
            for line in lines:
                goods += line.total_s
            domestic = country == "DE"
            if goods < (5_000 if domestic else 10_000):
                shipping_s = 490 if domestic else 990
        shipping_p = ratio(shipping_s, rate, 10_000)
        applications, codes, ship_disc_s, ship_disc_p = _apply_codes(
            r, lines, rate, shipping_s, shipping_p
        )

        # ---- per-line money and JSON, and the order's sums
        lines_s = lines_p = disc_s = disc_p = sub_s = sub_p = tax_s = tax_p = grams = 0
        fulfilled = f.fate in ("fulfilled", "partially_refunded", "refunded")
        fulfillable = not (fulfilled or f.cancelled)
        line_status = "fulfilled" if fulfilled else None
        zero = money_set(0, 0, presentment)
        for line in lines:
            item = line.json
            line.net_s = line.total_s - line.disc_s
            line.net_p = line.total_p - line.disc_p
            if item["taxable"]:
                line.tax_s = ratio(line.net_s, tax_bp, tax_den)
                line.tax_p = ratio(line.net_p, tax_bp, tax_den)
                item["tax_lines"] = [_tax_line(line.tax_s, line.tax_p, tax_bp, presentment)]
            else:
                item["tax_lines"] = []
            item["admin_graphql_api_id"] = f"gid://shopify/LineItem/{item['id']}"
            item["quantity"] = item["current_quantity"] = line.qty
            item["fulfillable_quantity"] = line.qty if fulfillable else 0
            item["fulfillment_status"] = line_status
            item["price"] = money(line.unit_s)
            item["price_set"] = money_set(line.unit_s, line.unit_p, presentment)
            item["total_discount"] = "0.00"
            item["total_discount_set"] = zero
            item["discount_allocations"] = [
                {
                    "amount": money(a_s),
                    "amount_set": money_set(a_s, a_p, presentment),
                    "discount_application_index": index,
                }
                for index, a_s, a_p in line.allocs
            ]
            item["duties"] = []
            item["properties"] = (
                [{"name": "Gravurtext", "value": "Für Oma ❤️"}]
                if item["title"].startswith("Gravur")
                else []
            )
            item["attributed_staffs"] = []
            lines_s += line.total_s
            lines_p += line.total_p
            disc_s += line.disc_s
            disc_p += line.disc_p
            sub_s += line.net_s
            sub_p += line.net_p
            tax_s += line.tax_s
            tax_p += line.tax_p
            grams += line.grams * line.qty
        ship_net_s, ship_net_p = shipping_s - ship_disc_s, shipping_p - ship_disc_p
        ship_tax_s = ratio(ship_net_s, tax_bp, tax_den)
        ship_tax_p = ratio(ship_net_p, tax_bp, tax_den)
        tax_s += ship_tax_s
        tax_p += ship_tax_p
        disc_s += ship_disc_s
        disc_p += ship_disc_p
        total_s = sub_s + ship_net_s + (0 if taxes_included else tax_s)
        total_p = sub_p + ship_net_p + (0 if taxes_included else tax_p)

        # ---- channel, payment and attribution
        web = f.channel == "web"
        pos = f.channel == "pos"
        draft = f.channel == "draft"
        if f.test:
            gateway = "bogus"
        elif pos:
            gateway = "cash" if r.random() < 0.4 else "shopify_payments"
        elif draft:
            gateway = "Vorkasse"
        else:
            gateway = pick(r, _WEB_GATEWAYS)
        client = landing = referrer = None
        notes: list[dict[str, str]] = []
        if web:
            client, landing, referrer, notes = web_session(r, country, f.created)

        # ---- lifecycle: refunds and current totals
        fate = f.fate
        current = [sub_s, tax_s, disc_s, total_s]
        current_p = [sub_p, tax_p, disc_p, total_p]
        refunds = []
        if fate in ("partially_refunded", "refunded", "voided", "cancelled_refunded"):
            refund = build_refund(
                r,
                i,
                f,
                lines,
                presentment,
                gateway,
                ship=(ship_net_s, ship_net_p, ship_tax_s, ship_tax_p),
                taxes_included=taxes_included,
                current=current,
                current_p=current_p,
            )
            refunds.append(refund)
            if fate != "partially_refunded":
                current = current_p = [0, 0, 0, 0]

        # ---- the order
        number = FIRST_ORDER_NUMBER + i
        order_id = ORDER_ID_BASE + i
        created = shop_time(f.created)
        token = hex_token(r)
        email = buyer.email if buyer is not None else ""
        tags = [t for t in ("b2b" if draft else "", "test" if f.test else "") if t]
        if touched_at is not None:
            tags.append("nachbearbeitet")
        address = buyer.address if buyer is not None else None
        source_name, app_id = _CHANNELS[f.channel]
        financial = _FINANCIAL[fate]
        if fate == "open" and gateway == "klarna":
            financial = "authorized"
        return {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "app_id": app_id,
            "browser_ip": client["browser_ip"] if client else None,
            "buyer_accepts_marketing": bool(buyer and buyer.accepts_marketing),
            "cancel_reason": pick(r, _CANCEL_REASONS) if f.cancelled else None,
            "cancelled_at": shop_time(f.cancelled) if f.cancelled else None,
            "cart_token": hex_token(r) if web else None,
            "checkout_id": CHECKOUT_ID_BASE + i if web else None,
            "checkout_token": hex_token(r) if web else None,
            "client_details": client,
            "closed_at": shop_time(f.closed) if f.closed else None,
            "company": None,
            "confirmation_number": alnum_token(r, 9),
            "confirmed": True,
            "contact_email": email or None,
            "created_at": created,
            "currency": SHOP_CURRENCY,
            "current_subtotal_price": money(current[0]),
            "current_subtotal_price_set": money_set(current[0], current_p[0], presentment),
            "current_total_additional_fees_set": None,
            "current_total_discounts": money(current[2]),
            "current_total_discounts_set": money_set(current[2], current_p[2], presentment),
            "current_total_duties_set": None,
            "current_total_price": money(current[3]),
            "current_total_price_set": money_set(current[3], current_p[3], presentment),
            "current_total_tax": money(current[1]),
            "current_total_tax_set": money_set(current[1], current_p[1], presentment),
            "customer_locale": locale,
            "device_id": "1" if pos else None,
            "discount_codes": codes,
            "email": email,
            "estimated_taxes": False,
            "financial_status": financial,
            "fulfillment_status": "fulfilled" if fulfilled else None,
            "landing_site": landing,
            "landing_site_ref": None,
            "location_id": POS_LOCATION_ID if pos else None,
            "merchant_of_record_app_id": None,
            "name": f"#{number}",
            "note": pick(r, _NOTES) if r.random() < 0.08 else None,
            "note_attributes": notes,
            "number": number - 1000,
            "order_number": number,
            "order_status_url": f"https://{SHOP_DOMAIN}/{SHOP_ID}/orders/{token}"
            f"/authenticate?key={hex_token(r)}",
            "original_total_additional_fees_set": None,
            "original_total_duties_set": None,
            "payment_gateway_names": [gateway],
            "phone": None,
            "po_number": f"PO-{number}" if draft else None,
            "presentment_currency": presentment,
            "processed_at": created,
            "reference": None,
            "referring_site": referrer,
            "source_identifier": f"1-{number}" if pos else None,
            "source_name": source_name,
            "source_url": None,
            "subtotal_price": money(sub_s),
            "subtotal_price_set": money_set(sub_s, sub_p, presentment),
            "tags": ", ".join(tags),
            "tax_exempt": False,
            "tax_lines": [_tax_line(tax_s, tax_p, tax_bp, presentment)] if tax_s else [],
            "taxes_included": taxes_included,
            "test": f.test,
            "token": token,
            "total_cash_rounding_payment_adjustment_set": zero,
            "total_cash_rounding_refund_adjustment_set": zero,
            "total_discounts": money(disc_s),
            "total_discounts_set": money_set(disc_s, disc_p, presentment),
            "total_line_items_price": money(lines_s),
            "total_line_items_price_set": money_set(lines_s, lines_p, presentment),
            "total_outstanding": money(total_s if fate == "pending" else 0),
            "total_price": money(total_s),
            "total_price_set": money_set(total_s, total_p, presentment),
            "total_shipping_price_set": money_set(shipping_s, shipping_p, presentment),
            "total_tax": money(tax_s),
            "total_tax_set": money_set(tax_s, tax_p, presentment),
            "total_tip_received": "0.00",
            "total_weight": grams,
            "updated_at": shop_time(touched_at if touched_at is not None else f.updated),
            "user_id": STAFF_USER_ID if pos or draft else None,
            "billing_address": address,
            "customer": buyer_json,
            "discount_applications": applications,
            "fulfillments": [_fulfillment(r, f, number, lines)] if fulfilled else [],
            "line_items": [line.json for line in lines],
            "payment_terms": None,
            "refunds": refunds,
            "shipping_address": address if ships else None,
            "shipping_lines": (
                [
                    _shipping_line(
                        i,
                        country,
                        presentment,
                        (shipping_s, shipping_p, ship_disc_s, ship_disc_p),
                        _tax_line(ship_tax_s, ship_tax_p, tax_bp, presentment),
                        applications,
                    )
                ]
                if ships
                else []
            ),
        }

    def _lines(self, r: random.Random, i: int, rate: int) -> list[Line]:
        """1-5 line items: catalogue variants, now and then a custom or a discontinued item."""
        lines: list[Line] = []
        used: set[int] = set()
        count = 1 + (r.random() < 0.6) + (r.random() < 0.3) + (r.random() < 0.15)
        count += r.random() < 0.05
        variants, items = self.variants, self._items
        for n in range(count):
            kind = r.random()
            qty = _quantity(r)
            if kind < 0.03:
                title, price = pick(r, _CUSTOM_ITEMS)
                sku = None if r.random() < 0.5 else ""
                line = Line(price, ratio(price, rate, 10_000), qty, False, 0)
                line.json = _off_catalogue_item(title, sku, 0, custom=True)
            elif kind < 0.04:
                sku, title, price, grams = _DISCONTINUED
                line = Line(price, ratio(price, rate, 10_000), qty, False, grams)
                line.json = _off_catalogue_item(title, sku, grams, custom=False)
            else:
                position = int(len(variants) * r.random() ** 1.7)
                v = variants[position]
                if v.id in used:
                    continue  # the shop merges a repeated variant into one line
                used.add(v.id)
                line = Line(v.price, ratio(v.price, rate, 10_000), qty, v.gift_card, v.grams)
                line.json = dict(items[position])
            line.json["id"] = LINE_ID_BASE + i * 8 + n
            lines.append(line)
        return lines


def _apply_codes(
    r: random.Random, lines: list[Line], rate: int, shipping_s: int, shipping_p: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    """0-3 discount codes, each applied to what the earlier ones left; their allocations.

    Returns the discount applications, the ``discount_codes`` and the
    shipping discount (shop and presentment cents).
    """
    applications: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    wanted = (r.random() < 0.45) + (r.random() < 0.15) + (r.random() < 0.03)
    if not wanted:
        return applications, codes, 0, 0
    ship_s = ship_p = 0
    eligible = [line for line in lines if not line.gift]  # gift cards are never discounted
    for code, kind, value in sorted({pick(r, _CODES) for _ in range(wanted)}):
        index = len(applications)
        given_s = given_p = 0
        if kind == "shipping":
            if not shipping_s:
                continue
            ship_s, ship_p = given_s, given_p = shipping_s, shipping_p
        elif kind == "percentage":
            if not eligible:
                continue
            for line in eligible:
                a_s = ratio(line.total_s - line.disc_s, value, 100)
                a_p = ratio(line.total_p - line.disc_p, value, 100)
                line.allocate(index, a_s, a_p)
                given_s, given_p = given_s + a_s, given_p + a_p
        else:
            rests = [line.total_s - line.disc_s for line in eligible]
            base = sum(rests)
            if base < 2 * value:
                continue
            for n, line in enumerate(eligible):
                a_s = value - given_s if n == len(eligible) - 1 else value * rests[n] // base
                a_p = ratio(a_s, rate, 10_000)
                line.allocate(index, a_s, a_p)
                given_s, given_p = given_s + a_s, given_p + a_p
        fixed = kind == "fixed_amount"
        applications.append(
            {
                "target_type": "shipping_line" if kind == "shipping" else "line_item",
                "type": "discount_code",
                "value": money(ratio(value, rate, 10_000)) if fixed else f"{value}.0",
                "value_type": "fixed_amount" if fixed else "percentage",
                "allocation_method": "each" if kind == "shipping" else "across",
                "target_selection": "all",
                "code": code,
            }
        )
        codes.append({"code": code, "amount": money(given_p), "type": kind})
    return applications, codes, ship_s, ship_p


def _fulfillment(r: random.Random, f: OrderFacts, number: int, lines: list[Line]) -> dict[str, Any]:
    fulfillment_id = FULFILLMENT_ID_BASE + f.order_index
    pos = f.channel == "pos"
    at = shop_time(f.closed or f.created)
    tracking = None if pos else f"00340434{int(r.random() * 10**10):010d}"
    url = f"https://www.dhl.de/de/privatkunden.html?piececode={tracking}"
    return {
        "id": fulfillment_id,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
        "created_at": at,
        "location_id": POS_LOCATION_ID if pos else LOCATION_ID,
        "name": f"#{number}.1",
        "order_id": ORDER_ID_BASE + f.order_index,
        "origin_address": {},
        "receipt": {},
        "service": "manual",
        "shipment_status": None if pos else "delivered",
        "status": "success",
        "tracking_company": None if pos else "DHL",
        "tracking_number": tracking,
        "tracking_numbers": [tracking] if tracking else [],
        "tracking_url": None if pos else url,
        "tracking_urls": [] if pos else [url],
        "updated_at": at,
        "line_items": [line.json for line in lines if line.json["requires_shipping"]],
    }


def _shipping_line(
    i: int,
    country: str,
    presentment: str,
    amounts: tuple[int, int, int, int],
    tax_line: dict[str, Any],
    applications: list[dict[str, Any]],
) -> dict[str, Any]:
    price_s, price_p, disc_s, disc_p = amounts
    allocations = []
    if disc_s:
        index = next(n for n, a in enumerate(applications) if a["target_type"] == "shipping_line")
        allocations.append(
            {
                "amount": money(disc_s),
                "amount_set": money_set(disc_s, disc_p, presentment),
                "discount_application_index": index,
            }
        )
    return {
        "id": SHIPPING_LINE_ID_BASE + i,
        "carrier_identifier": None,
        "code": "Standard",
        "discounted_price": money(price_s - disc_s),
        "discounted_price_set": money_set(price_s - disc_s, price_p - disc_p, presentment),
        "phone": None,
        "price": money(price_s),
        "price_set": money_set(price_s, price_p, presentment),
        "requested_fulfillment_service_id": None,
        "source": "shopify",
        "title": "DHL Paket" if country == "DE" else "DHL Paket International",
        "tax_lines": [tax_line],
        "discount_allocations": allocations,
    }
