"""Compiled mappings: the rows a record becomes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.mapping import CompiledMapping, Mappings
from hub.schema import make_id
from tests.hub.mapping.conftest import Loader
from tests.hub.mapping.helpers import root, rows

Stream = Callable[..., CompiledMapping]


def test_envelope_comes_from_the_engine_never_the_record(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: order_id
        updated_at: changed
        fields: {order_ref: {path: order_id, convert: string}}
        """
    )
    record = {
        "order_id": 1001,
        "changed": "2025-03-14T16:21:40+01:00",
        "tenant": "evil",
        "source": "evil",
        "connection": "evil",
        "id": "evil",
    }
    result = rows(mapping, record)
    assert [entity for entity, _ in result] == ["conversion"]
    row = result[0][1]
    assert row["id"] == make_id("acme", "test", "conversion", "1001")
    assert (row["tenant"], row["source"], row["connection"]) == ("acme", "test", "shop")
    assert row["external_id"] == "1001"  # always text
    assert row["source_updated_at"] == datetime(2025, 3, 14, 15, 21, 40, tzinfo=UTC)
    assert "synced_at" not in row
    assert row["extra"] == {"tenant": "evil", "source": "evil", "connection": "evil", "id": "evil"}
    assert row["order_ref"] == "1001"


def test_no_updated_at_path_gives_none(stream: Stream) -> None:
    assert root(stream("external_id: id"), {"id": "x"})["source_updated_at"] is None


def test_field_forms(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          order_ref: ref
          amount: {path: total, convert: decimal}
          currency: {path: currency, convert: [strip, upper]}
          status: {path: state, map: {paid: approved, open: pending}, default: pending}
          is_test: {value: true}
          customer_ref: {path: email, convert: hash}
          country: {path: [billing.cc, shipping.cc], convert: upper}
          voucher_codes: {path: 'codes[].code'}
          click_ref: {path: 'notes[name=awc].value'}
          occurred_at: {path: created, convert: timestamp, args: {timezone: Europe/Berlin}}
          channel_source: {template: '{utm.source}/{utm.medium}'}
        """
    )
    row = root(
        mapping,
        {
            "id": 1,
            "ref": "#1001",
            "total": "122.90",
            "currency": " eur ",
            "state": "paid",
            "email": "Lea@Example.ch",
            "billing": {"cc": None},
            "shipping": {"cc": "ch"},
            "codes": [{"code": "SPRING10"}, {"code": "VIP"}],
            "notes": [{"name": "awc", "value": "15880_1"}],
            "created": "2025-03-14T16:20:05",
            "utm": {"source": "awin", "medium": None},
        },
    )
    assert row["order_ref"] == "#1001"
    assert row["amount"] == Decimal("122.90")
    assert row["currency"] == "EUR"
    assert row["status"] == "approved"
    assert row["is_test"] is True
    assert row["customer_ref"] == hashlib.sha256(b"lea@example.ch").hexdigest()
    assert row["country"] == "CH"
    assert row["voucher_codes"] == ["SPRING10", "VIP"]
    assert row["click_ref"] == "15880_1"
    assert row["occurred_at"] == datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC)
    assert row["channel_source"] == "awin/"


def test_missing_values_are_none_or_the_column_default(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          amount: {path: total, convert: decimal}
          customer_ref: {path: email, convert: hash}
          status: state
          is_test: test
          voucher_codes: codes
          country: {path: [a.cc, b.cc]}
          channel_source: {template: '{x}-{y}'}
        """
    )
    row = root(mapping, {"id": 1})
    assert row["amount"] is None
    assert row["customer_ref"] is None  # hash keeps None as None
    assert row["country"] is None
    assert row["channel_source"] is None  # every placeholder empty
    # non-nullable columns fall back to the schema's default
    assert row["status"] == "pending"
    assert row["is_test"] is False
    assert row["voucher_codes"] == []
    other = root(mapping, {"id": 2})
    assert other["voucher_codes"] is not row["voucher_codes"]  # a fresh list each time


def test_map_unmapped_modes(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          status: {path: s, map: {paid: approved, voided: cancelled}}
          channel_source: {path: c, map: {1: one}, unmapped: keep}
          device: {path: d, map: {mobile: phone}, unmapped: error}
        """
    )
    row = root(mapping, {"id": 1, "s": "authorized", "c": "1", "d": "mobile"})
    assert row["status"] == "pending"  # unmapped -> null -> column default
    assert row["channel_source"] == "one"  # int keys also match their text
    assert row["device"] == "phone"
    assert root(mapping, {"id": 1, "c": "web", "d": "mobile"})["channel_source"] == "web"


def test_defaults_are_converted_unless_there_is_a_map(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          amount: {path: total, convert: decimal, default: '0'}
          refunded_amount: {value: '1.50', convert: decimal}
          status: {path: s, convert: lower, map: {paid: approved}, default: declined}
        """
    )
    row = root(mapping, {"id": 1})
    assert row["amount"] == Decimal(0) and isinstance(row["amount"], Decimal)
    assert row["refunded_amount"] == Decimal("1.50")
    assert row["status"] == "declined"


def test_coalesce_of_values(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          click_ref:
            coalesce:
              - 'note_attributes[name=awc].value'
              - {path: landing_site, convert: query_param, args: {name: awc}}
              - {value: unknown}
          customer_ref:
            coalesce: [{path: email, convert: hash}, {path: customer.email, convert: hash}]
        """
    )
    first = root(mapping, {"id": 1, "note_attributes": [{"name": "awc", "value": "A"}]})
    assert first["click_ref"] == "A"
    second = root(mapping, {"id": 1, "landing_site": "/p?awc=B", "email": ""})
    assert second["click_ref"] == "B"
    assert second["customer_ref"] is None
    assert root(mapping, {"id": 1, "email": "", "customer": {"email": "x@y.z"}})["customer_ref"]
    assert root(mapping, {"id": 1})["click_ref"] == "unknown"


def test_ref_ids(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          partner_id: {path: publisher_id, ref: partner}
          offer_id: {path: programme, ref: {entity: offer, source: awin}}
        """
    )
    row = root(mapping, {"id": 1, "publisher_id": 300401, "programme": "15880"})
    assert row["partner_id"] == make_id("acme", "test", "partner", "300401")
    assert row["offer_id"] == make_id("acme", "awin", "offer", "15880")
    assert root(mapping, {"id": 1})["partner_id"] is None


def test_children_with_each(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        updated_at: updated
        fields: {currency: currency}
        children:
          - entity: conversion_item
            each: line_items
            external_id: id
            parent_field: conversion_id
            fields:
              line_ref: {path: '#', convert: string}
              sku: sku
              quantity: {path: quantity, convert: int}
              unit_price: {path: price, convert: decimal}
              currency: {path: ^.currency}
              title: {template: '{^.name} - {title}'}
        """
    )
    record = {
        "id": 42,
        "name": "#1042",
        "updated": "2025-03-14T16:21:40Z",
        "currency": "EUR",
        "line_items": [
            {"id": 7, "sku": "A", "quantity": "2", "price": "10.00", "title": "Bag"},
            {"id": 8, "sku": None, "quantity": 1, "price": 5, "title": "Cap", "grams": 100},
        ],
    }
    result = rows(mapping, record)
    assert [entity for entity, _ in result] == ["conversion", "conversion_item", "conversion_item"]
    parent = result[0][1]
    first, second = result[1][1], result[2][1]
    assert first["external_id"] == "42:7"  # scoped by the parent by default
    assert first["id"] == make_id("acme", "test", "conversion_item", "42:7")
    assert first["conversion_id"] == parent["id"]
    assert first["source_updated_at"] == parent["source_updated_at"]  # inherited
    assert (first["line_ref"], second["line_ref"]) == ("0", "1")
    assert first["quantity"] == 2 and first["unit_price"] == Decimal("10.00")
    assert first["currency"] == "EUR"
    assert first["title"] == "#1042 - Bag"
    assert second["sku"] is None
    assert second["extra"] == {"grams": 100}
    assert first["extra"] == {}
    assert "line_items" not in parent["extra"]
    assert mapping.entities == ("conversion", "conversion_item")


def test_each_child_global_scope_and_missing_list(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: sku
            each: 'lines[]'
            external_id: sku
            external_id_scope: global
            fields: {title: title}
        """
    )
    result = rows(mapping, {"id": 1, "lines": [{"sku": "A"}, {"sku": None}, {"sku": ""}]})
    assert [row["external_id"] for _, row in result[1:]] == ["A"]  # elements without id: skipped
    assert len(rows(mapping, {"id": 1})) == 1
    assert len(rows(mapping, {"id": 1, "lines": None})) == 1


def test_child_without_each(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields: {partner_id: {path: publisher_id, ref: partner}}
        children:
          - entity: partner
            external_id: publisher_id
            updated_at: publisher_seen
            fields: {name: publisher_name, kind: {value: publisher}, network: {value: awin}}
          - entity: offer
            external_id: programme
            external_id_scope: parent
            fields: {name: {path: ^.programme_name}, kind: {value: program}}
        """
    )
    result = rows(
        mapping,
        {
            "id": 9,
            "publisher_id": 300401,
            "publisher_name": "Wanderwelt",
            "publisher_seen": "2025-01-01T00:00:00Z",
            "programme": 15880,
            "programme_name": "Alpenglück",
            "other": 1,
        },
    )
    assert [entity for entity, _ in result] == ["conversion", "partner", "offer"]
    conversion, partner, offer = (row for _, row in result)
    assert partner["external_id"] == "300401"  # global scope by default
    assert partner["id"] == conversion["partner_id"]  # the ref points at the child row
    assert partner["kind"] == "publisher" and partner["name"] == "Wanderwelt"
    assert partner["source_updated_at"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert partner["extra"] == {}
    assert offer["external_id"] == "9:15880"
    assert offer["name"] == "Alpenglück"
    # everything the children placed left the root's extra
    assert conversion["extra"] == {"other": 1}
    # no publisher: no partner row, and the record still maps
    assert [entity for entity, _ in rows(mapping, {"id": 10})] == ["conversion"]


def test_required_child(stream: Stream) -> None:
    from hub.errors import RecordError

    mapping = stream(
        """
        external_id: id
        children:
          - entity: partner
            external_id: publisher_id
            required: true
        """
    )
    with pytest.raises(RecordError, match="partner external_id"):
        rows(mapping, {"id": 1})


def test_constant_external_id(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: partner
            external_id: {value: awin}
            fields: {kind: {value: network}, name: {value: Awin}}
        """
    )
    partner = rows(mapping, {"id": 1})[1][1]
    assert partner["external_id"] == "awin"
    assert partner["kind"] == "network"


def test_compiled_once_and_cached(load: Loader, tmp_path: Any) -> None:
    mappings = load(
        """
        source: s
        streams:
          a: {entity: partner, external_id: id}
          b: {entity: sku, external_id: id}
        """
    )
    assert mappings.sources() == ["s"]
    assert mappings.streams("s") == ["a", "b"]
    assert mappings.has("s", "a") and not mappings.has("s", "c") and not mappings.has("t", "a")
    first = mappings.compile("s", "a")
    assert mappings.compile("s", "a") is first
    assert (first.source, first.stream, first.entities) == ("s", "a", ("partner",))
    assert "def _map" in first.source_code
    assert repr(first) == "<CompiledMapping s/a -> partner>"


def test_compile_unknown_stream(load: Loader) -> None:
    from hub.errors import MappingFileError

    mappings = load("source: s\nstreams: {a: {entity: partner, external_id: id}}\n")
    with pytest.raises(MappingFileError, match="no mapping file maps stream 'c'") as caught:
        mappings.compile("s", "c")
    assert caught.value.problems[0].hint is not None and "a" in caught.value.problems[0].hint


def test_later_files_replace_streams(tmp_path: Any) -> None:
    first, second = tmp_path / "1.yaml", tmp_path / "2.yaml"
    first.write_text("source: s\nstreams: {a: {entity: partner, external_id: id}}\n")
    second.write_text("source: s\nstreams: {a: {entity: partner, external_id: code}}\n")
    mappings = Mappings([first, second])
    assert root(mappings.compile("s", "a"), {"id": 1, "code": "X"})["external_id"] == "X"


def test_keys_are_never_code(stream: Stream) -> None:
    """Keys with quotes, braces or newlines are data, not generated code."""
    nasty = "a'\"; import os #\n{x}\\"
    mapping = stream(f"external_id: id\nfields:\n  order_ref: {{path: {json.dumps(nasty)}}}\n")
    assert root(mapping, {"id": 1, nasty: "ok"})["order_ref"] == "ok"
