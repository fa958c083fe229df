"""Compiled mappings vs re-interpreting the mapping spec for every record.

Run: ``.venv/bin/python bench/mapping_bench.py [--records 5000] [--repeat 5]``

Both sides map the same realistic Shopify-style orders (three line items,
discount codes, note attributes, addresses) with the same mapping: the hub's
compiled function, and a small naive interpreter that walks the parsed YAML
spec for each record (parse each path, look each converter up by name,
deep-copy the record and delete placed paths for ``extra``), as an engine
without a compile step would. The interpreter is checked to produce exactly
the same rows first, so the comparison is honest. Prints records/s for both
and the ratio; the design target is a ratio of at least 10.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.mapping import BUILTIN_CONVERTERS, Mappings
from hub.mapping.paths import Each, Filter, Key, Segment, as_text, matches, parse_path
from hub.schema import ENTITIES, make_id

MAPPING = """
source: shopify
version: 1
streams:
  orders:
    entity: conversion
    external_id: id
    updated_at: updated_at
    fields:
      order_ref: {path: order_number, convert: string}
      occurred_at: {path: created_at, convert: timestamp}
      status: {path: financial_status, map: {paid: approved, pending: pending, voided: cancelled,
               refunded: cancelled}, default: pending}
      amount: {path: total_price, convert: decimal}
      currency: {path: currency, convert: upper}
      presentment_amount: {path: total_price_set.presentment_money.amount, convert: decimal}
      presentment_currency: {path: presentment_currency, convert: upper}
      refunded_amount: {path: 'refunds[].transactions[?kind=refund].amount', convert: sum}
      voucher_codes: {path: 'discount_codes[].code'}
      customer_ref: {path: [customer.email, email], convert: hash}
      click_ref: {path: 'note_attributes[name=awc].value'}
      country: {path: [billing_address.country_code, shipping_address.country_code],
                convert: upper}
      channel_source: source_name
      is_test: {path: test, convert: bool}
      partner_id: {path: 'note_attributes[name=partner].value', ref: partner}
    children:
      - entity: conversion_item
        each: line_items
        external_id: id
        parent_field: conversion_id
        fields:
          line_ref: {path: id, convert: string}
          sku: sku
          title: title
          quantity: {path: quantity, convert: int}
          unit_price: {path: price, convert: decimal}
          discount: {path: 'discount_allocations[].amount', convert: sum}
          currency: {path: ^.currency, convert: upper}
      - entity: partner
        external_id: 'note_attributes[name=partner].value'
        fields:
          name: {path: 'note_attributes[name=partner_name].value'}
          kind: {value: publisher}
"""


def make_orders(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Orders shaped like the Shopify REST order example in the API reference."""
    rng = random.Random(seed)
    orders = []
    for number in range(count):
        lines = [
            {
                "id": 16200000000000 + number * 10 + line,
                "product_id": 9100000000000 + line,
                "variant_id": 48100000000000 + line,
                "sku": rng.choice(["ALP-RUCK-28-BLU", "ALP-FLASK-1L", "", None]),
                "title": "Tagesrucksack Alpsee 28 l",
                "quantity": rng.randint(1, 3),
                "current_quantity": 1,
                "price": f"{rng.randint(500, 20000) / 100:.2f}",
                "price_set": {
                    "shop_money": {"amount": "120.00", "currency_code": "EUR"},
                    "presentment_money": {"amount": "112.90", "currency_code": "CHF"},
                },
                "total_discount": "0.00",
                "discount_allocations": [{"amount": "12.00", "discount_application_index": 0}],
                "tax_lines": [],
            }
            for line in range(3)
        ]
        attributes = [{"name": "Geschenknachricht", "value": "Alles Gute! ⛰️"}]
        if number % 2:
            attributes.append({"name": "awc", "value": f"15880_1741964712_{number:032x}"})
        if number % 3:
            attributes += [
                {"name": "partner", "value": str(300400 + number % 17)},
                {"name": "partner_name", "value": "Wanderwelt Magazin"},
            ]
        orders.append(
            {
                "id": 6123400000000 + number,
                "admin_graphql_api_id": f"gid://shopify/Order/{6123400000000 + number}",
                "name": f"#{2000 + number}",
                "order_number": 2000 + number,
                "created_at": "2025-03-14T16:20:05+01:00",
                "updated_at": "2025-03-14T16:21:40+01:00",
                "processed_at": "2025-03-14T16:20:05+01:00",
                "cancelled_at": None,
                "test": number % 50 == 0,
                "financial_status": rng.choice(["paid", "pending", "voided", "authorized"]),
                "currency": "EUR",
                "presentment_currency": "chf",
                "total_price": rng.choice(["122.90", 313.70000000000005, 99]),
                "total_price_set": {
                    "shop_money": {"amount": "122.90", "currency_code": "EUR"},
                    "presentment_money": {"amount": "115.63", "currency_code": "CHF"},
                },
                "discount_codes": [{"code": "SPRING10", "amount": "11.29", "type": "percentage"}],
                "note_attributes": attributes,
                "landing_site": "/de-ch/products/tagesrucksack-alpsee?awc=15880_1741964712_2c4f",
                "referring_site": "https://www.awin1.com/",
                "source_name": "web",
                "email": f"Kunde{number}@Example.ch" if number % 4 else "",
                "customer": {"id": 7788000000012, "email": f"kunde{number}@example.ch"}
                if number % 5
                else None,
                "billing_address": {"city": "Zürich", "country_code": "ch" if number % 7 else None},
                "shipping_address": {"city": "Bern", "country_code": "CH"},
                "line_items": lines,
                "refunds": [
                    {
                        "id": 1,
                        "transactions": [
                            {"kind": "refund", "status": "success", "amount": "10.00"},
                            {"kind": "refund", "status": "success", "amount": 2.5},
                        ],
                    }
                ]
                if number % 6 == 0
                else [],
            }
        )
    return orders


# -- the naive interpreter -------------------------------------------------------

_NOTHING = object()


def _read(value: Any, segments: tuple[Segment, ...]) -> Any:
    collects = any(isinstance(s, Each) or (isinstance(s, Filter) and not s.first) for s in segments)
    if not segments:
        return value
    segment, rest = segments[0], segments[1:]
    rest_collects = any(
        isinstance(s, Each) or (isinstance(s, Filter) and not s.first) for s in rest
    )
    if isinstance(segment, Key):
        if isinstance(value, dict):
            found = value.get(segment.name)
        elif isinstance(value, list) and segment.index is not None:
            found = value[segment.index] if -len(value) <= segment.index < len(value) else None
        else:
            found = None
        return _read(found, rest) if found is not None else ([] if collects else None)
    if isinstance(segment, Filter) and segment.first:
        for element in value if isinstance(value, list) else []:
            if matches(element, segment.conditions):
                return _read(element, rest)
        return [] if rest_collects else None
    out: list[Any] = []
    for element in value if isinstance(value, list) else []:
        if element is None:
            continue
        if isinstance(segment, Filter) and not matches(element, segment.conditions):
            continue
        found = _read(element, rest)
        if rest_collects:
            out.extend(found)
        elif found is not None:
            out.append(found)
    return out


def _remove(value: Any, segments: tuple[Segment, ...]) -> bool:
    """Delete the leaf at ``segments`` in place; True when ``value`` became empty."""
    if not segments or not value:
        return False
    segment, rest = segments[0], segments[1:]
    if isinstance(segment, Key):
        if isinstance(value, dict):
            if segment.name not in value:
                return False
            if not rest or _remove(value[segment.name], rest):
                del value[segment.name]
            return not value
        if isinstance(value, list) and segment.index is not None:
            if not -len(value) <= segment.index < len(value):
                return False
            if not rest or _remove(value[segment.index], rest):
                del value[segment.index]
            return not value
        return False
    if not isinstance(value, list):
        return False
    keep = []
    matched = False
    for element in value:
        hit = isinstance(segment, Each) or matches(element, segment.conditions)
        if isinstance(segment, Filter) and segment.first and matched:
            hit = False
        if hit:
            matched = True
            if not rest:
                continue
            emptied = _remove(element, rest)
            if isinstance(segment, Filter) and not emptied:
                for key, _ in segment.conditions:
                    emptied = _remove(element, (Key(key),))
            if emptied:
                continue
        keep.append(element)
    value[:] = keep
    return not value


def _convert(value: Any, convert: Any, args: dict[str, Any]) -> Any:
    names = convert if isinstance(convert, list) else [convert]
    for name in names:
        if value is None:
            break
        function = BUILTIN_CONVERTERS[name]  # looked up by name, every time
        value = function(value, **args)
    return value


def _column_default(entity: str, column: str) -> Any:
    info = ENTITIES[entity][0].model_fields[column]
    if info.is_required() or type(None) in getattr(info.annotation, "__args__", ()):
        return None
    return info.get_default(call_default_factory=True)


def _value(
    spec: Any,
    record: Any,
    parent: Any,
    context: dict[str, Any],
    used: list[tuple[Any, tuple[Segment, ...]]] | None,
    parent_used: list[tuple[Any, tuple[Segment, ...]]] | None,
) -> Any:
    field = spec if isinstance(spec, dict) else {"path": spec}
    if "value" in field:
        value = field["value"]
    else:
        texts = field["path"] if isinstance(field["path"], list) else [field["path"]]
        value = None
        for text in texts:
            path = parse_path(text)  # parsed again for every record
            base = parent if path.base == "parent" else record
            value = _read(base, path.segments)
            target = parent_used if path.base == "parent" else used
            # a single path is placed even when null; of several, the one that gave a value
            placed = value is not None or len(texts) == 1
            if placed and target is not None and path.segments:
                target.append((base, path.segments))
            if value is not None:
                break
    if "convert" in field:
        value = _convert(value, field["convert"], field.get("args", {}))
    if "map" in field and value is not None:
        value = field["map"].get(value)
    if value is None and "default" in field:
        value = field["default"]
    if "ref" in field and value is not None:
        value = make_id(context["tenant"], context["source"], field["ref"], as_text(value))
    return value


def interpret(
    document: dict[str, Any], stream: str, record: dict[str, Any], tenant: str, connection: str
) -> list[tuple[str, dict[str, Any]]]:
    """Map one record by walking the parsed YAML spec."""
    spec = document["streams"][stream]
    source = document["source"]
    context = {"tenant": tenant, "source": source}
    extra = copy.deepcopy(record)
    used: list[tuple[Any, tuple[Segment, ...]]] = []

    def entity_row(
        entity_spec: dict[str, Any],
        data: Any,
        row_used: list[Any] | None,
        parent_used: list[Any] | None,
        prefix: str | None,
    ) -> dict[str, Any] | None:
        entity = entity_spec["entity"]
        ext = _value(entity_spec["external_id"], data, record, context, row_used, parent_used)
        if ext is None or ext == "":
            return None
        ext = as_text(ext)
        if prefix is not None:
            ext = f"{prefix}:{ext}"
        updated = None
        if "updated_at" in entity_spec:
            raw = _value(entity_spec["updated_at"], data, record, context, row_used, parent_used)
            updated = _convert(raw, "timestamp", {})
        row = {
            "id": make_id(tenant, source, entity, ext),
            "tenant": tenant,
            "source": source,
            "connection": connection,
            "external_id": ext,
            "source_updated_at": updated,
            "extra": {},
        }
        for column, field in entity_spec.get("fields", {}).items():
            value = _value(field, data, record, context, row_used, parent_used)
            if value is None:
                value = _column_default(entity, column)
            row[column] = value
        return row

    root = entity_row(spec, record, used, used, None)
    assert root is not None
    rows = [(spec["entity"], root)]
    for child in spec.get("children", []):
        if "each" in child:
            each = parse_path(child["each"])
            used.append((record, each.segments))
            for element in _read(record, each.segments) or []:
                element_used: list[tuple[Any, tuple[Segment, ...]]] = []
                row = entity_row(child, element, element_used, None, root["external_id"])
                if row is None:
                    continue
                row["source_updated_at"] = row["source_updated_at"] or root["source_updated_at"]
                row[child["parent_field"]] = root["id"]
                leftover = copy.deepcopy(element)
                for _, segments in element_used:
                    _remove(leftover, segments)
                row["extra"] = leftover
                rows.append((child["entity"], row))
        else:
            row = entity_row(child, record, used, used, None)
            if row is not None:
                row["source_updated_at"] = row["source_updated_at"] or root["source_updated_at"]
                rows.append((child["entity"], row))
    for _, segments in used:
        _remove(extra, segments)
    root["extra"] = extra
    return rows


# -- timing ----------------------------------------------------------------------


def rate(
    function: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]], repeat: int
) -> float:
    """Best records per second over ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for record in records:
            function(record)
        best = min(best, time.perf_counter() - started)
    return len(records) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shopify.yaml"
        path.write_text(MAPPING, encoding="utf-8")
        compiled = Mappings([path]).compile("shopify", "orders")
    document = yaml.safe_load(MAPPING)
    records = make_orders(options.records)

    def run_compiled(record: dict[str, Any]) -> Any:
        return compiled(record, tenant="acme", connection="shop")

    def run_naive(record: dict[str, Any]) -> Any:
        return interpret(document, "orders", record, "acme", "shop")

    for record in records[:200]:  # same output, or the comparison means nothing
        expected, got = run_compiled(record), run_naive(record)
        if expected != got:
            raise SystemExit(f"the interpreter disagrees:\n{expected}\n{got}")

    compiled_rate = rate(run_compiled, records, options.repeat)
    naive_rate = rate(run_naive, records, options.repeat)
    print(f"records:      {len(records)} (best of {options.repeat})")
    print(f"compiled:     {compiled_rate:>10,.0f} records/s")
    print(f"interpreted:  {naive_rate:>10,.0f} records/s")
    print(f"ratio:        {compiled_rate / naive_rate:>10.1f}x")


if __name__ == "__main__":
    main()
