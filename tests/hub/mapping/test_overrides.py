"""Per-connection overrides from hub.yaml, deep-merged over a stream's mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import MappingFileError
from hub.mapping import Mappings
from hub.yamlfile import load_yaml
from tests.hub.mapping.conftest import Loader
from tests.hub.mapping.helpers import rows

FILE = """
source: shop
version: 1
streams:
  orders:
    entity: conversion
    external_id: id
    fields:
      order_ref: number
      amount: {path: total, convert: decimal}
      currency: {path: currency, convert: upper}
      occurred_at: {path: created, convert: timestamp, args: {timezone: UTC}}
    children:
      - entity: conversion_item
        each: lines
        external_id: id
        parent_field: conversion_id
        fields: {sku: sku}
      - entity: partner
        external_id: publisher
        fields: {kind: {value: publisher}}
"""

RECORD: dict[str, Any] = {
    "id": 1,
    "number": 1001,
    "total": "10.00",
    "subtotal": "8.00",
    "currency": "eur",
    "created": "2025-03-14T12:00:00",
    "lines": [{"id": 5, "sku": "A", "name": "Bag"}],
    "publisher": 7,
    "tier": "gold",
}


@pytest.fixture
def mappings(load: Loader) -> Mappings:
    return load(FILE)


def mapped(mappings: Mappings, overrides: dict[str, Any] | None) -> list[tuple[str, Any]]:
    return rows(mappings.compile("shop", "orders", overrides, origin="hub.yaml"), RECORD)


def test_replace_a_field_keeps_what_is_not_overridden(mappings: Mappings) -> None:
    conversion = mapped(mappings, {"fields": {"amount": {"path": "subtotal"}}})[0][1]
    assert conversion["amount"] == Decimal("8.00")  # still converted with decimal
    assert conversion["extra"]["total"] == "10.00"  # no longer placed


def test_add_options_to_a_shorthand_field(mappings: Mappings) -> None:
    conversion = mapped(mappings, {"fields": {"order_ref": {"convert": "string"}}})[0][1]
    assert conversion["order_ref"] == "1001"


def test_replace_a_field_entirely(mappings: Mappings) -> None:
    overrides = {"fields": {"currency": {"path": "currency", "convert": None, "value": None}}}
    assert mapped(mappings, overrides)[0][1]["currency"] == "eur"
    assert mapped(mappings, {"fields": {"currency": "tier"}})[0][1]["currency"] == "gold"


def test_remove_a_field(mappings: Mappings) -> None:
    conversion = mapped(mappings, {"fields": {"currency": None}})[0][1]
    assert "currency" not in conversion
    assert conversion["extra"]["currency"] == "eur"  # nothing is lost


def test_add_a_field(mappings: Mappings) -> None:
    conversion = mapped(mappings, {"fields": {"channel_source": {"value": "newsletter"}}})[0][1]
    assert conversion["channel_source"] == "newsletter"


def test_change_one_converter_argument(mappings: Mappings) -> None:
    overrides = {"fields": {"occurred_at": {"args": {"timezone": "Europe/Vienna"}}}}
    conversion = mapped(mappings, overrides)[0][1]
    assert conversion["occurred_at"] == datetime(2025, 3, 14, 11, 0, tzinfo=UTC)


def test_children_by_entity_name(mappings: Mappings) -> None:
    result = mapped(
        mappings,
        {
            "children": {
                "conversion_item": {"fields": {"title": "name"}},
                "partner": None,  # drop the partner rows
                "sku": {"each": "lines", "external_id": "sku", "external_id_scope": "global"},
            }
        },
    )
    assert [entity for entity, _ in result] == ["conversion", "conversion_item", "sku"]
    assert result[1][1]["title"] == "Bag" and result[1][1]["sku"] == "A"
    assert result[2][1]["external_id"] == "A"


def test_children_by_index_and_as_a_list(mappings: Mappings) -> None:
    by_index = mapped(mappings, {"children": {0: {"fields": {"sku": None}}}})
    assert "sku" not in by_index[1][1]
    replaced = mapped(mappings, {"children": []})
    assert [entity for entity, _ in replaced] == ["conversion"]


def test_bad_override_names_the_config_file(mappings: Mappings) -> None:
    with pytest.raises(MappingFileError) as caught:
        mappings.compile(
            "shop",
            "orders",
            {"fields": {"ammount": "total", "currency": {"convert": "uper"}}},
            origin="/etc/hub/hub.yaml",
            location="connections.eu_shop.mapping_overrides.orders",
        )
    found = sorted(caught.value.problems, key=lambda p: p.location)
    assert [p.file for p in found] == ["/etc/hub/hub.yaml", "/etc/hub/hub.yaml"]
    assert [p.location for p in found] == [
        "connections.eu_shop.mapping_overrides.orders.fields.ammount",
        "connections.eu_shop.mapping_overrides.orders.fields.currency.convert",
    ]
    assert all(p.line is None for p in found)  # plain dicts carry no line numbers
    assert "did you mean amount?" in found[0].message
    assert "did you mean upper?" in found[1].message


def test_bad_override_default_location_and_lines(mappings: Mappings) -> None:
    block, problems = load_yaml("fields:\n  currency: ^.currency\n", "hub.yaml")
    assert not problems
    with pytest.raises(MappingFileError) as caught:
        mappings.compile("shop", "orders", block)
    (problem,) = caught.value.problems
    assert problem.file == "hub.yaml"
    assert problem.location == "mapping_overrides.orders.fields.currency"
    assert problem.line == 2  # lines are kept when the config was parsed with load_yaml


def test_override_errors_do_not_poison_the_cache(mappings: Mappings) -> None:
    with pytest.raises(MappingFileError):
        mappings.compile("shop", "orders", {"fields": {"tenant": "x"}})
    plain = mappings.compile("shop", "orders")
    assert mappings.compile("shop", "orders", {}) is plain
    one = mappings.compile("shop", "orders", {"fields": {"currency": None}})
    assert mappings.compile("shop", "orders", {"fields": {"currency": None}}) is one
    assert one is not plain


def test_override_must_be_a_mapping(mappings: Mappings) -> None:
    with pytest.raises(MappingFileError, match="must be a mapping"):
        mappings.compile("shop", "orders", ["fields"])  # type: ignore[arg-type]
