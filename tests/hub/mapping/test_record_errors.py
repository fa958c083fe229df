"""Bad records: one RecordError naming stream, field and (truncated) value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hub.errors import RecordError
from hub.mapping import CompiledMapping
from tests.hub.mapping.helpers import rows

Stream = Callable[..., CompiledMapping]

BODY = """
external_id: id
fields:
  amount: {path: total, convert: decimal}
  occurred_at: {path: created, convert: timestamp}
  order_ref: {path: number, required: true}
  device: {path: device, map: {mobile: phone}, unmapped: error}
  customer_ref: {path: customer, convert: [strip, hash]}
  status: {path: state, map: {paid: approved}}
children:
  - entity: conversion_item
    each: lines
    external_id: id
    parent_field: conversion_id
    fields: {quantity: {path: qty, convert: int}}
"""

GOOD: dict[str, Any] = {"id": 1, "number": "1001", "lines": [{"id": 1, "qty": 1}]}


@pytest.fixture
def mapping(stream: Stream) -> CompiledMapping:
    return stream(BODY)


def error(mapping: CompiledMapping, record: dict[str, Any]) -> RecordError:
    with pytest.raises(RecordError) as caught:
        rows(mapping, record)
    return caught.value


def test_good_record_maps(mapping: CompiledMapping) -> None:
    assert len(rows(mapping, GOOD)) == 2


def test_bad_decimal(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "total": "12,50"})
    assert found.message == (
        "stream test/items, record 1: conversion amount (path total): "
        "not a decimal number; value '12,50'"
    )
    assert found.hint


def test_long_values_are_cut(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "total": "x" * 500})
    assert "..." in found.message
    assert len(found.message) < 250


def test_naive_timestamp(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "created": "2025-03-14T12:00:00"})
    assert "occurred_at (path created)" in found.message
    assert "no UTC offset" in found.message and "timezone" in found.message


def test_missing_required(mapping: CompiledMapping) -> None:
    found = error(mapping, {"id": 1})
    assert "order_ref (path number): required" in found.message


def test_unmapped_value(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "device": "tablet"})
    assert "device (path device): 'tablet' is not in the field's map" in found.message
    assert found.hint is not None and "unmapped" in found.hint


def test_unhashable_value_in_a_map(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "state": ["paid"]})
    assert "cannot be looked up in map" in found.message


def test_personal_data_is_not_echoed(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "customer": {"email": "Lea@Example.ch"}})
    assert "example.ch" not in found.message.lower()
    assert "customer_ref (path customer)" in found.message
    assert "<personal data, not shown>" in found.message


def test_missing_root_id(mapping: CompiledMapping) -> None:
    for record in ({"number": 1}, {"id": "", "number": 1}):
        found = error(mapping, record)
        assert "conversion external_id (path id): no external id" in found.message


def test_object_as_id(mapping: CompiledMapping) -> None:
    found = error(mapping, {"id": {"nested": 1}, "number": 1})
    assert "an id must be text or a number" in found.message


def test_child_errors_name_the_element(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "lines": [{"id": 1, "qty": 1}, {"id": 2, "qty": "two"}]})
    assert "record 1: conversion_item (element 1) quantity (path qty)" in found.message
    assert "'two'" in found.message


def test_each_needs_a_list(mapping: CompiledMapping) -> None:
    found = error(mapping, {**GOOD, "lines": {"id": 1}})
    assert "`each` expects a list, got dict" in found.message


def test_record_must_be_an_object(mapping: CompiledMapping) -> None:
    with pytest.raises(RecordError, match="must be a JSON object"):
        mapping(["not", "a", "record"], tenant="t", connection="c")  # type: ignore[arg-type]


def test_failing_plugin_converter(stream: Stream) -> None:
    def explode(value: Any) -> Any:
        raise RuntimeError("boom")

    mapping = stream(
        "external_id: id\nfields: {order_ref: {path: n, convert: explode}}\n",
        converters={"explode": explode},
    )
    found = error(mapping, {"id": 1, "n": 5})
    assert "order_ref (path n): boom; value 5" in found.message
    assert isinstance(found.__cause__, RuntimeError)


def test_sensitive_plugin_converter_hides_its_input(stream: Stream) -> None:
    def phone_hash(value: Any, *, country: str) -> str:
        raise ValueError(f"not a phone number for {country}")

    phone_hash.sensitive = True  # type: ignore[attr-defined]
    mapping = stream(
        "external_id: id\nfields:\n"
        "  customer_ref: {path: phone, convert: phone_hash, args: {country: AT}}\n",
        converters={"phone_hash": phone_hash},
    )
    found = error(mapping, {"id": 1, "phone": "+43 660 1234567"})
    assert "1234567" not in found.message
    assert "not a phone number for AT" in found.message
