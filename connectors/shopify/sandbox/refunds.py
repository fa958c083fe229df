"""Refunds of sandbox orders, shaped like Shopify's (apis.md 1.8 "Refunds" and trap 3/4).

- a partial refund returns part of one line (or, for a one-item order, a
  goodwill ``refund_discrepancy`` adjustment), sometimes the shipping too, and
  now and then records a failed refund transaction before the successful one;
- a full refund (``refunded``) returns every line and the shipping;
- a cancellation creates a refund whose lines have ``restock_type: "cancel"``:
  with money going back (``cancelled_refunded``) or, for a voided
  authorisation, with no transaction at all (``voided``).

``refund_line_items[].subtotal`` and ``total_tax`` are JSON numbers, the
adjustments' amounts negative strings, the transactions in presentment
currency: exactly the mixed types a connector must survive.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from .basics import (
    LOCATION_ID,
    ORDER_ID_BASE,
    STAFF_USER_ID,
    money,
    money_set,
    pick,
    ratio,
    shop_time,
)

if TYPE_CHECKING:
    from .data import OrderFacts

REFUND_ID_BASE = 987_000_000_000
REFUND_LINE_ID_BASE = 555_000_000_000
TRANSACTION_ID_BASE = 7_430_000_000_000
ADJUSTMENT_ID_BASE = 233_000_000_000


class Line:
    """One line item while its money is worked out: cents in shop and presentment currency."""

    __slots__ = ("allocs", "disc_p", "disc_s", "gift", "grams", "json", "net_p", "net_s", "qty",
                 "tax_p", "tax_s", "total_p", "total_s", "unit_p", "unit_s")  # fmt: skip

    def __init__(self, unit_s: int, unit_p: int, qty: int, gift: bool, grams: int) -> None:
        self.unit_s, self.unit_p, self.qty, self.gift, self.grams = unit_s, unit_p, qty, gift, grams
        self.total_s, self.total_p = unit_s * qty, unit_p * qty
        self.allocs: list[tuple[int, int, int]] = []  # (application index, shop, presentment)
        self.disc_s = self.disc_p = self.net_s = self.net_p = self.tax_s = self.tax_p = 0
        self.json: dict[str, Any] = {}

    def allocate(self, index: int, shop: int, presentment: int) -> None:
        """Discount application ``index`` takes ``shop``/``presentment`` cents off this line."""
        self.allocs.append((index, shop, presentment))
        self.disc_s += shop
        self.disc_p += presentment


def build_refund(
    r: random.Random,
    i: int,
    f: OrderFacts,
    lines: list[Line],
    presentment: str,
    gateway: str,
    *,
    ship: tuple[int, int, int, int],
    taxes_included: bool,
    current: list[int],
    current_p: list[int],
) -> dict[str, Any]:
    """Order ``i``'s one refund; lowers ``current``/``current_p`` [subtotal, tax, discounts,
    total] (cents) and the refunded lines' ``current_quantity`` by what it returns."""
    fate = f.fate
    refund_id = REFUND_ID_BASE + i
    order_id = ORDER_ID_BASE + i
    at = shop_time(f.cancelled if fate == "cancelled_refunded" and f.cancelled else f.updated)
    restock = "cancel" if fate in ("voided", "cancelled_refunded") else "return"
    picked: list[tuple[Line, int]]
    if fate != "partially_refunded":
        picked = [(line, line.qty) for line in lines]
    else:
        candidates = [line for line in lines if line.net_s > 0]
        if (len(lines) == 1 and lines[0].qty == 1) or not candidates:
            picked = []  # a goodwill refund without returned items
        else:
            line = pick(r, candidates)
            picked = [(line, 1 + int(r.random() * line.qty) if len(lines) > 1 else 1)]
    add_tax = not taxes_included
    refund_lines = []
    back_s = back_p = 0
    for n, (line, qty) in enumerate(picked):
        sub_s, sub_p = ratio(line.net_s, qty, line.qty), ratio(line.net_p, qty, line.qty)
        tax_s, tax_p = ratio(line.tax_s, qty, line.qty), ratio(line.tax_p, qty, line.qty)
        line.json["current_quantity"] = line.qty - qty
        refund_lines.append(
            {
                "id": REFUND_LINE_ID_BASE + i * 8 + n,
                "line_item_id": line.json["id"],
                "location_id": LOCATION_ID,
                "quantity": qty,
                "restock_type": restock,
                "subtotal": sub_s / 100,
                "subtotal_set": money_set(sub_s, sub_p, presentment),
                "total_tax": tax_s / 100,
                "total_tax_set": money_set(tax_s, tax_p, presentment),
                "line_item": line.json,
            }
        )
        back_s += sub_s + (tax_s if add_tax else 0)
        back_p += sub_p + (tax_p if add_tax else 0)
        current[0] -= sub_s
        current_p[0] -= sub_p
        current[1] -= tax_s
        current_p[1] -= tax_p
        current[2] -= ratio(line.disc_s, qty, line.qty)
        current_p[2] -= ratio(line.disc_p, qty, line.qty)
    adjustments = []
    ship_s, ship_p, ship_tax_s, ship_tax_p = ship
    if fate != "voided" and ship_s and (fate != "partially_refunded" or r.random() < 0.5):
        adjustments.append(
            ("shipping_refund", "Shipping refund", ship_s, ship_p, ship_tax_s, ship_tax_p)
        )
        current[1] -= ship_tax_s
        current_p[1] -= ship_tax_p
    if not picked and fate == "partially_refunded":
        goodwill_s = max(1, ratio(current[3], 10, 100))
        goodwill_p = max(1, ratio(current_p[3], 10, 100))
        adjustments.append(("refund_discrepancy", "Kulanz", goodwill_s, goodwill_p, 0, 0))
    order_adjustments = []
    for n, (kind, reason, a_s, a_p, t_s, t_p) in enumerate(adjustments):
        order_adjustments.append(
            {
                "id": ADJUSTMENT_ID_BASE + i * 2 + n,
                "order_id": order_id,
                "refund_id": refund_id,
                "kind": kind,
                "reason": reason,
                "amount": money(-a_s),
                "amount_set": money_set(-a_s, -a_p, presentment),
                "tax_amount": money(-t_s),
                "tax_amount_set": money_set(-t_s, -t_p, presentment),
            }
        )
        back_s += a_s + (t_s if add_tax else 0)
        back_p += a_p + (t_p if add_tax else 0)
    transactions = []
    if fate != "voided":  # a voided authorisation moves no money
        failed_first = fate == "partially_refunded" and r.random() < 0.25
        for n, status in enumerate(("failure", "success") if failed_first else ("success",)):
            transactions.append(
                _transaction(i, n, status, back_p, presentment, gateway, at, f.test)
            )
        current[3] -= back_s
        current_p[3] -= back_p
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order_id,
        "created_at": at,
        "processed_at": at,
        "note": "Rücksendung erhalten ✅" if restock == "return" else None,
        "restock": True,
        "user_id": STAFF_USER_ID,
        "duties": [],
        "total_duties_set": money_set(0, 0, presentment),
        "return": None,
        "refund_line_items": refund_lines,
        "transactions": transactions,
        "order_adjustments": order_adjustments,
    }


def _transaction(
    i: int, n: int, status: str, amount: int, currency: str, gateway: str, at: str, test: bool
) -> dict[str, Any]:
    transaction_id = TRANSACTION_ID_BASE + i * 4 + n
    failed = status == "failure"
    return {
        "id": transaction_id,
        "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}",
        "order_id": ORDER_ID_BASE + i,
        "kind": "refund",
        "status": status,
        "amount": money(amount),
        "currency": currency,
        "gateway": gateway,
        "parent_id": TRANSACTION_ID_BASE + i * 4 + 3,
        "authorization": None,
        "payment_id": f"c{i}.{n + 2}",
        "processed_at": at,
        "created_at": at,
        "source_name": "1830279",
        "test": test,
        "error_code": "processing_error" if failed else None,
        "message": "Refund failed: try again" if failed else "Refunded",
        "receipt": {},
        "location_id": None,
        "user_id": STAFF_USER_ID,
        "device_id": None,
        "manual_payment_gateway": gateway in ("cash", "Vorkasse"),
    }
