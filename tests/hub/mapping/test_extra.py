"""The extra column: every source field the mapping did not place, and nothing else."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hub.mapping import CompiledMapping
from tests.hub.mapping.helpers import root, rows

Stream = Callable[..., CompiledMapping]


def test_flat_and_nested_leaves(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          country: billing.country_code
          amount: {path: total_set.shop.amount, convert: decimal}
        """
    )
    record = {
        "id": 1,
        "note": "hi",
        "billing": {"country_code": "AT", "city": "Wien"},
        "total_set": {"shop": {"amount": "1.00"}, "presentment": {"amount": "1.10"}},
    }
    before = copy.deepcopy(record)
    extra = root(mapping, record)["extra"]
    assert extra == {
        "note": "hi",
        "billing": {"city": "Wien"},  # only the leaf went
        "total_set": {"presentment": {"amount": "1.10"}},  # emptied dicts are pruned
    }
    assert record == before  # the record itself is never changed
    json.dumps(extra)  # still JSON as it came


def test_emptied_parents_are_pruned_but_empty_sources_stay(stream: Stream) -> None:
    mapping = stream("external_id: id\nfields: {country: a.b.c}\n")
    assert root(mapping, {"id": 1, "a": {"b": {"c": "AT"}}, "e": {}})["extra"] == {"e": {}}


def test_lists_collected_and_filtered(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          voucher_codes: {path: 'discount_codes[].code'}
          click_ref: {path: 'note_attributes[name=awc].value'}
          channel_source: {path: 'tags.0'}
        """
    )
    record = {
        "id": 1,
        "discount_codes": [{"code": "A", "amount": "1"}, {"code": "B"}],
        "note_attributes": [
            {"name": "gift", "value": "x"},
            {"name": "awc", "value": "15880_1"},
            {"name": "awc", "value": "second"},
        ],
        "tags": ["web", "vip"],
    }
    extra = root(mapping, record)["extra"]
    assert extra == {
        "discount_codes": [{"amount": "1"}],  # emptied elements are dropped
        # the matched element goes whole (its name was used to find it); other matches stay
        "note_attributes": [{"name": "gift", "value": "x"}, {"name": "awc", "value": "second"}],
        "tags": ["vip"],
    }


def test_all_matches_filter_and_nested_collect(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          refunded_amount: {path: 'refunds[].transactions[?kind=refund].amount', convert: sum}
        """
    )
    record = {
        "id": 1,
        "refunds": [
            {"id": 5, "transactions": [{"kind": "refund", "amount": "1"}, {"kind": "sale"}]},
            {"transactions": [{"kind": "refund", "amount": "2"}]},
        ],
    }
    row = root(mapping, record)
    assert str(row["refunded_amount"]) == "3"
    assert row["extra"] == {"refunds": [{"id": 5, "transactions": [{"kind": "sale"}]}]}


def test_whole_record_paths_remove_nothing(stream: Stream) -> None:
    mapping = stream(
        "external_id: id\nfields: {kind: {value: program}, name: {path: $, convert: json}}\n",
        entity="offer",
    )
    row = root(mapping, {"id": 1, "x": 2})
    assert row["name"] == {"id": 1, "x": 2}
    assert row["extra"] == {"x": 2}


def test_coalesce_removes_only_the_path_that_gave_the_value(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          country: {path: [billing.cc, shipping.cc]}
          click_ref:
            coalesce: ['notes[name=awc].value', {path: landing, convert: query_param,
                       args: {name: awc}}]
        """
    )
    record = {
        "id": 1,
        "billing": {"cc": None},
        "shipping": {"cc": "AT"},
        "notes": [],
        "landing": "/?awc=1",
    }
    assert root(mapping, record)["extra"] == {"billing": {"cc": None}, "notes": []}
    record = {
        "id": 1,
        "billing": {"cc": "DE"},
        "shipping": {"cc": "AT"},
        "notes": [{"name": "awc", "value": "2"}],
        "landing": "/?awc=1",
    }
    assert root(mapping, record)["extra"] == {"shipping": {"cc": "AT"}, "landing": "/?awc=1"}


def test_each_children_extra_and_root_extra(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields: {currency: currency}
        children:
          - entity: conversion_item
            each: line_items
            external_id: id
            parent_field: conversion_id
            fields:
              sku: sku
              discount: {path: 'discount_allocations[].amount', convert: sum}
              currency: {path: ^.presentment_currency}
              title: {path: ^.title}
          - entity: partner
            external_id: publisher.id
            fields: {name: publisher.name}
        """
    )
    record = {
        "id": 1,
        "currency": "EUR",
        "presentment_currency": "CHF",
        "title": "kept: read by an each child, not placed by the root",
        "publisher": {"id": 7, "name": "P", "url": "https://p.example"},
        "line_items": [
            {"id": 1, "sku": "A", "discount_allocations": [{"amount": "1", "index": 0}]},
            {"id": 2, "properties": [{"name": "engraving", "value": "L"}]},
        ],
    }
    result = rows(mapping, record)
    conversion, first, second, partner = (row for _, row in result)
    # the root loses what it and its non-each children placed, and the each list
    assert conversion["extra"] == {
        "presentment_currency": "CHF",
        "title": "kept: read by an each child, not placed by the root",
        "publisher": {"url": "https://p.example"},
    }
    assert first["extra"] == {"discount_allocations": [{"index": 0}]}
    assert second["extra"] == {"properties": [{"name": "engraving", "value": "L"}]}
    assert partner["extra"] == {}


def test_extra_of_non_dict_elements(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: sku
            each: skus
            external_id: $
            fields: {sku: $}
        """
    )
    result = rows(mapping, {"id": 1, "skus": ["A", "B"]})
    assert [row["sku"] for _, row in result[1:]] == ["A", "B"]
    assert all(row["extra"] == {} for _, row in result)


def test_pruned_parts_are_copies(stream: Stream) -> None:
    mapping = stream("external_id: id\nfields: {country: a.cc}\n")
    record: dict[str, Any] = {"id": 1, "a": {"cc": "AT", "x": 1}}
    extra = root(mapping, record)["extra"]
    extra["a"]["x"] = 2
    assert record["a"]["x"] == 1


def test_a_skipped_child_places_nothing(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: partner
            external_id: publisher_id
            fields: {name: publisher_name, website: {path: [site, url]}}
        """
    )
    record = {"id": 1, "publisher_name": "No id, so no partner row", "url": "https://p.example"}
    result = rows(mapping, record)
    assert len(result) == 1
    assert result[0][1]["extra"] == {
        "publisher_name": "No id, so no partner row",
        "url": "https://p.example",
    }
    record = {"id": 1, "publisher_id": 7, "publisher_name": "P", "url": "https://p.example"}
    assert rows(mapping, record)[0][1]["extra"] == {}
