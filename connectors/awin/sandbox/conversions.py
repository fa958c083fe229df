"""The Conversion API of the sandbox: ``POST /s2s/advertiser/{id}/orders`` (apis.md 2.6).

Orders are checked one by one the way the reference describes them: an
``orderReference`` of at most 50 characters, a numeric ``amount``, an ISO 4217
``currency``, a ``channel``, commission groups adding up to the amount, and an
attribution (an ``awc``; a ``publisherId`` with a ``clickTime``; or a
voucher). Good orders are kept in an :class:`OrderBook`, bad ones come back in
``failedOrders`` with ``{field, message}`` errors; the status is 202 when all
were accepted and 206 when some were not [B: the reference gives 200, 202 and
206 and the 206 body, not when each is used].
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ORDERS = 1000
_AWC = re.compile(r"^\d+_\d+_[0-9a-f]{32}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class BatchRefused(Exception):
    """The whole call is refused (400): not JSON, no ``orders`` list, too many orders."""


def _number(value: Any) -> Decimal | None:
    """A JSON number as Decimal (None: not a number; booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of a JSON number always parses
        return None


def order_errors(order: Any, advertiser_id: int) -> list[dict[str, str]]:
    """What is wrong with one order, as the ``errors`` of a failed order (empty: fine)."""
    if not isinstance(order, dict):
        return [{"field": "order", "message": "must be an object"}]
    errors: list[dict[str, str]] = []

    def fail(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    ref = order.get("orderReference")
    if not isinstance(ref, str) or not ref.strip():
        fail("orderReference", "is required")
    elif len(ref) > 50:
        fail("orderReference", "must be at most 50 characters")
    amount = _number(order.get("amount"))
    if amount is None or amount < 0:
        fail("amount", "must be a number >= 0")
    if not isinstance(order.get("currency"), str) or not _CURRENCY.match(order["currency"]):
        fail("currency", "must be an ISO 4217 code such as EUR")
    if not isinstance(order.get("channel"), str) or not order["channel"]:
        fail("channel", "is required (aw for Awin)")
    awc = order.get("awc")
    if awc is not None and (
        not isinstance(awc, str) or not _AWC.match(awc) or not awc.startswith(f"{advertiser_id}_")
    ):
        fail("awc", f"must look like {advertiser_id}_<click time>_<32 hex digits>")
    attributed = bool(awc) or bool(order.get("voucher"))
    if order.get("publisherId") is not None:
        if _number(order.get("clickTime")) is None:
            fail("clickTime", "is required with publisherId (epoch seconds)")
        attributed = True
    if not attributed:
        fail("awc", "an awc, a publisherId with a clickTime, or a voucher is required")
    groups = order.get("commissionGroups")
    if groups is not None:
        parts = [g.get("amount") if isinstance(g, dict) else None for g in groups or [None]]
        numbers = [_number(p) for p in parts]
        codes_ok = all(isinstance(g, dict) and g.get("code") for g in groups or [None])
        if not isinstance(groups, list) or not codes_ok or None in numbers:
            fail("commissionGroups", "must be a list of {code, amount}")
        elif amount is not None and sum(n for n in numbers if n is not None) != amount:
            fail("commissionGroups", "the group amounts must add up to amount")
    return errors


class OrderBook:
    """The orders the Conversion API accepted, by order reference (a resend replaces)."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.batches = 0
        self._lock = threading.Lock()

    def receive(self, body: Any, advertiser_id: int) -> tuple[int, dict[str, Any]]:
        """Check and keep the orders of one call: the status and the response body."""
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list) or not orders:
            raise BatchRefused('the body must be {"orders": [...]} with at least one order')
        if len(orders) > MAX_ORDERS:
            raise BatchRefused(f"at most {MAX_ORDERS} orders per call, got {len(orders)}")
        with self._lock:
            self.batches += 1
            batch = f"sandbox-batch-{self.batches:06d}"
            ok: list[dict[str, str]] = []
            failed: list[dict[str, Any]] = []
            for n, order in enumerate(orders):
                errors = order_errors(order, advertiser_id)
                if errors:
                    failed.append({"order": order, "errors": errors})
                    continue
                self.orders[order["orderReference"]] = order
                ok.append(
                    {"orderReference": order["orderReference"], "correlationId": f"{batch}-{n}"}
                )
        body = {"batchId": batch, "successfulOrders": ok, "failedOrders": failed}
        return (206 if failed else 202), body
