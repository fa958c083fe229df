"""Price rules and discount codes, kept in memory: what the co-op destination writes to.

Shapes follow the REST PriceRule and DiscountCode resources (checked against
Shopify's published examples: ``value`` is a negative decimal string such as
``"-10.0"``; timestamps come back in the shop's offset). Validation answers
422 with ``{"errors": {field: [messages]}}``. What could not be verified is
marked [B] in docs/decisions/0008-shopify-sandbox.md: the exact messages, the
201 status of a create, and the case-insensitive uniqueness of codes.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from .basics import parse_instant, shop_time

PRICE_RULE_ID_BASE = 1_310_000_000_000
DISCOUNT_CODE_ID_BASE = 17_900_000_000_000

_CHOICES = {
    "target_type": ("line_item", "shipping_line"),
    "target_selection": ("all", "entitled"),
    "allocation_method": ("across", "each"),
    "value_type": ("percentage", "fixed_amount"),
    "customer_selection": ("all", "prerequisite"),
}
_LISTS = (
    "entitled_product_ids",
    "entitled_variant_ids",
    "entitled_collection_ids",
    "entitled_country_ids",
    "prerequisite_product_ids",
    "prerequisite_variant_ids",
    "prerequisite_collection_ids",
    "customer_segment_prerequisite_ids",
    "prerequisite_customer_ids",
)
_OBJECTS = (
    "prerequisite_subtotal_range",
    "prerequisite_quantity_range",
    "prerequisite_shipping_price_range",
)


class ValidationFailed(Exception):
    """A 422: ``errors`` maps each bad field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.errors = errors


class NotFound(Exception):
    """A 404: the price rule or discount code does not exist."""


def _decimal_text(value: Any) -> str:
    """Shopify's rendering of a rule's value: ``-10 -> "-10.0"``, ``"-12.50" -> "-12.5"``."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text if "." in text else f"{text}.0"


class DiscountStore:
    """The shop's price rules and their discount codes (thread-safe, in memory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: dict[int, dict[str, Any]] = {}
        self.codes: dict[int, dict[str, Any]] = {}
        self._by_code: dict[str, int] = {}  # lower-cased code -> discount code id
        self._next_rule = PRICE_RULE_ID_BASE
        self._next_code = DISCOUNT_CODE_ID_BASE

    # ----------------------------------------------------------------------- price rules

    def create_rule(self, body: Any) -> dict[str, Any]:
        fields = self._rule_fields(body, creating=True)
        now = shop_time(int(time.time()))
        with self._lock:
            self._next_rule += 1
            rule_id = self._next_rule
            rule = {
                "id": rule_id,
                "value_type": fields["value_type"],
                "value": fields["value"],
                "customer_selection": fields["customer_selection"],
                "target_type": fields["target_type"],
                "target_selection": fields["target_selection"],
                "allocation_method": fields["allocation_method"],
                "allocation_limit": fields.get("allocation_limit"),
                "once_per_customer": bool(fields.get("once_per_customer", False)),
                "usage_limit": fields.get("usage_limit"),
                "starts_at": fields["starts_at"],
                "ends_at": fields.get("ends_at"),
                "created_at": now,
                "updated_at": now,
                **{name: list(fields.get(name) or []) for name in _LISTS},
                **{name: fields.get(name) for name in _OBJECTS},
                "prerequisite_to_entitlement_quantity_ratio": fields.get(
                    "prerequisite_to_entitlement_quantity_ratio",
                    {"prerequisite_quantity": None, "entitled_quantity": None},
                ),
                "prerequisite_to_entitlement_purchase": fields.get(
                    "prerequisite_to_entitlement_purchase", {"prerequisite_amount": None}
                ),
                "title": fields["title"],
                "admin_graphql_api_id": f"gid://shopify/PriceRule/{rule_id}",
            }
            self.rules[rule_id] = rule
            return dict(rule)

    def update_rule(self, rule_id: int, body: Any) -> dict[str, Any]:
        fields = self._rule_fields(body, creating=False)
        with self._lock:
            rule = self._rule(rule_id)
            rule.update(fields)
            rule["updated_at"] = shop_time(int(time.time()))
            return dict(rule)

    def delete_rule(self, rule_id: int) -> None:
        with self._lock:
            self._rule(rule_id)
            del self.rules[rule_id]
            for code_id in [
                c for c, code in self.codes.items() if code["price_rule_id"] == rule_id
            ]:
                self._by_code.pop(self.codes.pop(code_id)["code"].lower(), None)

    def rule(self, rule_id: int) -> dict[str, Any]:
        with self._lock:
            return dict(self._rule(rule_id))

    def list_rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(rule) for _, rule in sorted(self.rules.items())]

    def _rule(self, rule_id: int) -> dict[str, Any]:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise NotFound from None

    def _rule_fields(self, body: Any, *, creating: bool) -> dict[str, Any]:
        """The validated fields of a ``{"price_rule": {...}}`` body, or a 422."""
        data = body.get("price_rule") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ValidationFailed({"price_rule": ["Required parameter missing or invalid"]})
        errors: dict[str, list[str]] = {}
        fields: dict[str, Any] = {}
        required = ("title", *_CHOICES, "value", "starts_at")
        for name in required:
            if creating and (data.get(name) is None or data.get(name) == ""):
                errors.setdefault(name, []).append("can't be blank")
        for name, choices in _CHOICES.items():
            if data.get(name) not in (None, "") and data[name] not in choices:
                errors.setdefault(name, []).append(
                    f"is not included in the list: {', '.join(choices)}"
                )
            elif data.get(name):
                fields[name] = data[name]
        if data.get("title"):
            fields["title"] = str(data["title"])
        if data.get("value") not in (None, ""):
            try:
                value = Decimal(str(data["value"]))
            except InvalidOperation:
                errors.setdefault("value", []).append("is not a number")
            else:
                if value >= 0:
                    errors.setdefault("value", []).append("must be less than 0")
                elif data.get("value_type") == "percentage" and value < -100:
                    errors.setdefault("value", []).append("must be greater than or equal to -100")
                else:
                    fields["value"] = _decimal_text(value)
        for name in ("starts_at", "ends_at"):
            if data.get(name):
                try:
                    fields[name] = shop_time(parse_instant(str(data[name])))
                except ValueError:
                    errors.setdefault(name, []).append("is not a valid date and time")
        if "ends_at" in data and data["ends_at"] is None:
            fields["ends_at"] = None
        if (
            "starts_at" in fields
            and fields.get("ends_at")
            and parse_instant(fields["ends_at"]) < parse_instant(fields["starts_at"])
        ):
            errors.setdefault("ends_at", []).append("must be after starts_at")
        for name in ("usage_limit", "allocation_limit"):
            if data.get(name) is not None:
                if not isinstance(data[name], int) or data[name] < 1:
                    errors.setdefault(name, []).append("must be greater than 0")
                else:
                    fields[name] = data[name]
        if "once_per_customer" in data:
            fields["once_per_customer"] = bool(data["once_per_customer"])
        for name in (
            *_LISTS,
            *_OBJECTS,
            "prerequisite_to_entitlement_quantity_ratio",
            "prerequisite_to_entitlement_purchase",
        ):
            if name in data:
                fields[name] = data[name]
        if errors:
            raise ValidationFailed(errors)
        return fields

    # ----------------------------------------------------------------------- discount codes

    def create_code(self, rule_id: int, body: Any) -> dict[str, Any]:
        data = body.get("discount_code") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ValidationFailed({"discount_code": ["Required parameter missing or invalid"]})
        code = str(data.get("code") or "").strip()
        with self._lock:
            self._rule(rule_id)
            if not code:
                raise ValidationFailed({"code": ["can't be blank"]})
            if len(code) > 255:
                raise ValidationFailed({"code": ["is too long (maximum is 255 characters)"]})
            if code.lower() in self._by_code:
                raise ValidationFailed({"code": ["must be unique. Please try a different code."]})
            self._next_code += 1
            now = shop_time(int(time.time()))
            record: dict[str, Any] = {
                "id": self._next_code,
                "price_rule_id": rule_id,
                "code": code,
                "usage_count": 0,
                "created_at": now,
                "updated_at": now,
            }
            self.codes[record["id"]] = record
            self._by_code[code.lower()] = record["id"]
            return dict(record)

    def codes_of(self, rule_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._rule(rule_id)
            return [dict(c) for _, c in sorted(self.codes.items()) if c["price_rule_id"] == rule_id]

    def code(self, rule_id: int, code_id: int) -> dict[str, Any]:
        with self._lock:
            found = self.codes.get(code_id)
            if found is None or found["price_rule_id"] != rule_id:
                raise NotFound
            return dict(found)

    def delete_code(self, rule_id: int, code_id: int) -> None:
        with self._lock:
            found = self.codes.get(code_id)
            if found is None or found["price_rule_id"] != rule_id:
                raise NotFound
            del self.codes[code_id]
            self._by_code.pop(found["code"].lower(), None)

    def lookup(self, code: str) -> dict[str, Any]:
        """The discount code called ``code`` (case-insensitive), for the 303 of lookup.json."""
        with self._lock:
            code_id = self._by_code.get(code.strip().lower())
            if code_id is None:
                raise NotFound
            return dict(self.codes[code_id])
