"""`drop` (remove paths from extra without placing them) and `keep_in_extra` (read, keep)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.errors import MappingFileError, Problem
from hub.mapping import CompiledMapping, Mappings
from hub.yamlfile import load_yaml
from tests.hub.mapping.conftest import Loader
from tests.hub.mapping.helpers import root, rows

Stream = Callable[..., CompiledMapping]
Problems = Callable[[str], list[Problem]]

ORDER: dict[str, Any] = {
    "id": 1,
    "email": "Ann@Example.com",
    "phone": "+43 1 234",
    "browser_ip": "203.0.113.7",
    "note": "leave at the door",
    "customer": {"id": 9, "email": "ann@example.com", "phone": None},
    "billing_address": {"city": "Wien", "phone": "+43 1 234"},
    "shipping_lines": [{"code": "std", "phone": "+43 1"}, {"code": "exp", "phone": "+43 2"}],
    "note_attributes": [
        {"name": "email", "value": "a@b.c"},
        {"name": "phone", "value": "1"},
        {"name": "phone", "value": "2", "source": "app"},
        {"name": "awc", "value": "123"},
        {"name": "email", "value": "second@b.c"},
    ],
    "tags": ["vip", "wholesale"],
    "line_items": [
        {"id": 5, "sku": "A", "tax_lines": [{"rate": 0.2}], "properties": [{"name": "_token"}]},
        {"id": 6, "sku": "B", "properties": [{"name": "gift", "value": "yes"}]},
    ],
}


# -- drop on the root -----------------------------------------------------------


def test_root_drop_leaves_objects_lists_and_filters(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        drop:
          - email
          - customer.email
          - billing_address
          - shipping_lines[].phone
          - note_attributes[name=email]
          - note_attributes[?name=phone].value
          - tags[]
          - line_items.1.properties
          - missing.key
        """
    )
    record = copy.deepcopy(ORDER)
    extra = root(mapping, record)["extra"]
    assert extra == {
        "phone": "+43 1 234",
        "browser_ip": "203.0.113.7",
        "note": "leave at the door",
        "customer": {"id": 9, "phone": None},  # only the leaf went
        "shipping_lines": [{"code": "std"}, {"code": "exp"}],
        "note_attributes": [
            # the first `email` element went whole; value and name of every `phone`
            {"source": "app"},
            {"name": "awc", "value": "123"},
            {"name": "email", "value": "second@b.c"},  # [k=v] is the first match only
        ],
        # tags[] emptied the list, so it went; line_items is the root's: only index 1 changed
        "line_items": [ORDER["line_items"][0], {"id": 6, "sku": "B"}],
    }
    assert record == ORDER  # the record itself is never changed


def test_a_dropped_path_may_be_read_by_a_field(stream: Stream) -> None:
    """The column gets the value, extra gets nothing; with a list of paths, neither."""
    body = """
        external_id: id
        fields:
          customer_ref: {path: [customer.email, email], convert: hash}
        """
    without = root(stream(body), ORDER)
    assert without["extra"]["email"] == "Ann@Example.com"  # the unused alternative stays, raw
    with_drop = root(stream(body + "drop: [customer.email, email]\n"), ORDER)
    assert with_drop["customer_ref"] == without["customer_ref"] is not None
    assert "email" not in with_drop["extra"]
    assert with_drop["extra"]["customer"] == {"id": 9, "phone": None}


def test_drop_applies_whether_a_same_record_child_is_made_or_not(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        drop: [note_attributes]
        children:
          - entity: partner
            external_id: 'note_attributes[name=partner].value'
        """
    )
    made = rows(mapping, {"id": 1, "note_attributes": [{"name": "partner", "value": "7"}]})
    skipped = rows(mapping, {"id": 1, "note_attributes": [{"name": "x", "value": "7"}]})
    assert [entity for entity, _ in made] == ["conversion", "partner"]
    assert [entity for entity, _ in skipped] == ["conversion"]
    assert made[0][1]["extra"] == skipped[0][1]["extra"] == {}


# -- drop on an each child --------------------------------------------------------


def test_child_drop_is_relative_to_the_element(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        drop: [email]
        children:
          - entity: conversion_item
            each: line_items
            external_id: id
            parent_field: conversion_id
            fields: {sku: sku}
            drop: [tax_lines, 'properties[?name=_token]', email]
        """
    )
    found = rows(mapping, ORDER)
    assert [row["extra"] for _, row in found[1:]] == [
        {},  # tax_lines and the _token property went; emptied properties too
        {"properties": [{"name": "gift", "value": "yes"}]},
    ]
    root_extra = found[0][1]["extra"]
    assert "email" not in root_extra and "line_items" not in root_extra
    assert root_extra["phone"] == "+43 1 234"  # a child's drop never touches the parent


def test_child_drop_with_nested_index_and_first_match(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: conversion_item
            each: items
            external_id: '#'
            drop: ['attrs[k=secret].v', 'history.0', meta.raw]
        """
    )
    record = {
        "id": 1,
        "items": [
            {
                "attrs": [{"k": "secret", "v": 1}, {"k": "secret", "v": 2}, {"k": "size"}],
                "history": ["old", "older"],
                "meta": {"raw": "x" * 100, "kept": True},
            }
        ],
    }
    assert rows(mapping, record)[1][1]["extra"] == {
        "attrs": [{"k": "secret", "v": 2}, {"k": "size"}],
        "history": ["older"],
        "meta": {"kept": True},
    }


# -- keep_in_extra ------------------------------------------------------------------


def test_keep_in_extra_reads_the_value_and_leaves_it(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          channel_source:
            path: landing_site
            convert: query_param
            args: {name: utm_source}
            keep_in_extra: true
          channel_medium: {path: landing_site, convert: query_param, args: {name: utm_medium}}
          order_ref: {path: number, convert: string, keep_in_extra: false}
        """
    )
    record = {"id": 1, "number": 7, "landing_site": "/?utm_source=awin&utm_medium=aff"}
    row = root(mapping, record)
    assert (row["channel_source"], row["channel_medium"]) == ("awin", "aff")
    # channel_medium reads it without keep_in_extra, so it is placed after all
    assert row["extra"] == {}
    both = stream(
        """
        external_id: id
        fields:
          channel_source: {path: landing_site, convert: query_param, args: {name: utm_source},
                           keep_in_extra: true}
          channel_medium: {path: landing_site, convert: query_param, args: {name: utm_medium},
                           keep_in_extra: true}
          order_ref: {path: number, convert: string}
        """
    )
    row = root(both, record)
    assert (row["channel_source"], row["channel_medium"], row["order_ref"]) == ("awin", "aff", "7")
    assert row["extra"] == {"landing_site": "/?utm_source=awin&utm_medium=aff"}


def test_keep_in_extra_covers_every_path_the_field_reads(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          click_ref:
            coalesce: ['note_attributes[name=awc].value', {path: landing, convert: strip}]
            keep_in_extra: true
          country: {path: [billing.cc, shipping.cc], keep_in_extra: true}
          order_ref: {template: '{a.x}-{b}', keep_in_extra: true}
        """
    )
    record = {
        "id": 1,
        "note_attributes": [{"name": "awc", "value": "9"}],
        "landing": " L ",
        "billing": {"cc": "AT"},
        "shipping": {"cc": "DE"},
        "a": {"x": 1},
        "b": 2,
    }
    row = root(mapping, record)
    assert (row["click_ref"], row["country"], row["order_ref"]) == ("9", "AT", "1-2")
    assert row["extra"] == {key: value for key, value in record.items() if key != "id"}


def test_keep_in_extra_in_children(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: conversion_item
            each: line_items
            external_id: id
            fields:
              sku: {path: sku, keep_in_extra: true}
              title: {path: ^.note, keep_in_extra: true}
          - entity: partner
            external_id: partner
            fields: {name: {path: partner_name, keep_in_extra: true}}
        """
    )
    record = {
        "id": 1,
        "note": "n",
        "partner": 7,
        "partner_name": "Blog",
        "line_items": [{"id": 5, "sku": "A", "qty": 1}],
    }
    found = rows(mapping, record)
    assert found[1][1]["sku"] == "A" and found[1][1]["extra"] == {"sku": "A", "qty": 1}
    assert found[1][1]["title"] == "n"
    assert found[2][1]["name"] == "Blog"
    assert found[0][1]["extra"] == {"note": "n", "partner_name": "Blog"}


def test_drop_wins_over_keep_in_extra(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          customer_ref: {path: email, convert: hash, keep_in_extra: true}
        drop: [email]
        """
    )
    row = root(mapping, {"id": 1, "email": "a@b.c", "x": 1})
    assert row["customer_ref"] is not None and row["extra"] == {"x": 1}


# -- overrides ------------------------------------------------------------------------

SHIPPED = """
source: shop
version: 1
streams:
  orders:
    entity: conversion
    external_id: id
    drop: [email]
    children:
      - entity: conversion_item
        each: line_items
        external_id: id
        drop: [tax_lines]
"""


def test_an_override_drop_is_added_to_the_shipped_one(load: Loader) -> None:
    mappings = load(SHIPPED)
    overrides = {
        "drop": ["phone", "note_attributes[?name=phone]"],
        "children": {"conversion_item": {"drop": ["properties"]}},
    }
    found = rows(mappings.compile("shop", "orders", overrides, origin="hub.yaml"), ORDER)
    extra = found[0][1]["extra"]
    assert not {"email", "phone"} & set(extra)  # both the shipped drop and the added one
    assert [a["name"] for a in extra["note_attributes"]] == ["email", "awc", "email"]
    assert found[1][1]["extra"] == {"sku": "A"}
    # the shipped mapping itself is unchanged
    plain = rows(mappings.compile("shop", "orders"), ORDER)
    assert "phone" in plain[0][1]["extra"] and "properties" in plain[1][1]["extra"]


def test_an_override_can_remove_the_drop_list_explicitly(load: Loader) -> None:
    mappings = load(SHIPPED)
    found = rows(mappings.compile("shop", "orders", {"drop": None}), ORDER)
    assert found[0][1]["extra"]["email"] == "Ann@Example.com"


def test_an_override_drop_on_a_stream_without_one(load: Loader) -> None:
    mappings = load(SHIPPED.replace("    drop: [email]\n", ""))
    found = rows(mappings.compile("shop", "orders", {"drop": ["email"]}), ORDER)
    assert "email" not in found[0][1]["extra"]


def test_a_bad_override_drop_names_the_config_file_and_line(load: Loader) -> None:
    mappings = load(SHIPPED)
    block, found = load_yaml("drop: [phone, 'a[b']\n", "hub.yaml")
    assert not found
    with pytest.raises(MappingFileError) as caught:
        mappings.compile("shop", "orders", block, origin="hub.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("hub.yaml", 1)
    assert problem.location == "mapping_overrides.orders.drop.1"  # as written in hub.yaml
    assert "malformed path" in problem.message and problem.hint


# -- load errors ------------------------------------------------------------------------


def stream_file(body: str) -> str:
    """A one-stream file; ``body`` is the stream's YAML, indented for it."""
    return f"source: s\nversion: 1\nstreams:\n  orders:\n    entity: conversion\n{body}"


def test_malformed_drop_paths_are_reported_with_lines(problems: Problems) -> None:
    found = problems(
        stream_file(
            "    external_id: id\n"  # line 6
            "    drop:\n"
            "      - email\n"  # 8
            "      - 'a..b'\n"  # 9
            "      - 'c[x'\n"  # 10
            "      - ^.currency\n"  # 11
            "      - 5\n"  # 12
        )
    )
    assert [(p.file.endswith("test.yaml"), p.line, p.location) for p in found] == [
        (True, 9, "streams.orders.drop.1"),
        (True, 10, "streams.orders.drop.2"),
        (True, 11, "streams.orders.drop.3"),
        (True, 12, "streams.orders.drop.4"),
    ]
    assert all(p.hint for p in found)
    assert "malformed path" in found[0].message


@pytest.mark.parametrize("bad", ["'$'", "'^.note'", "'^'", "'#'"])
def test_child_drop_must_name_a_key_of_the_element(problems: Problems, bad: str) -> None:
    (problem,) = problems(
        stream_file(
            "    external_id: id\n"
            "    children:\n"
            "      - entity: conversion_item\n"
            "        each: line_items\n"
            "        external_id: id\n"
            f"        drop: [{bad}]\n"  # line 11
        )
    )
    assert (problem.line, problem.location) == (11, "streams.orders.children.0.drop.0")
    assert "does not name a key" in problem.message


def test_drop_is_a_list_and_not_on_a_child_without_each(problems: Problems) -> None:
    found = problems(
        stream_file(
            "    external_id: id\n"
            "    drop: email\n"  # 7
            "    children:\n"
            "      - entity: partner\n"
            "        external_id: publisher\n"
            "        drop: [publisher_email]\n"  # 11
        )
    )
    assert [(p.line, p.location) for p in found] == [
        (7, "streams.orders.drop"),
        (11, "streams.orders.children.0.drop"),
    ]
    assert "list of paths" in found[0].message
    assert found[1].hint == "move these paths to the stream's `drop:`"


def test_keep_in_extra_is_checked(problems: Problems) -> None:
    found = problems(
        stream_file(
            "    external_id: {path: id, keep_in_extra: true}\n"  # 6
            "    fields:\n"
            "      order_ref: {path: n, keep_in_extra: 'yes'}\n"  # 8
            "      country: {value: x, keep_in_extra: true}\n"  # 9
            "      device: {coalesce: [a, {path: b, keep_in_extra: true}]}\n"  # 10
        )
    )
    by_line = {p.line or 0: p for p in found}
    assert sorted(by_line) == [6, 8, 9, 10]
    assert "unknown key 'keep_in_extra'" in by_line[6].message  # not for ids
    assert "true or false" in by_line[8].message
    assert "constant" in by_line[9].message
    assert "unknown key 'keep_in_extra'" in by_line[10].message  # field-level only


# -- the documentation's examples --------------------------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "mapping.md"


def doc_block(heading: str) -> str:
    section = DOC.read_text(encoding="utf-8").split(f"### {heading}\n", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_documented_drop_example(load: Loader) -> None:
    mapping = load("source: shopify\nversion: 1\n" + doc_block("Dropping fields")).compile(
        "shopify", "orders"
    )
    record = copy.deepcopy(ORDER)
    record["client_details"] = {"browser_ip": "203.0.113.7", "user_agent": "UA"}
    found = rows(mapping, record)
    extra = found[0][1]["extra"]
    assert found[0][1]["customer_ref"] is not None
    text = repr(extra)
    for secret in ("ann@example.com", "Ann@Example.com", "+43", "203.0.113.7", "a@b.c"):
        assert secret not in text, secret
    assert extra["client_details"] == {"user_agent": "UA"}
    assert extra["customer"] == {"id": 9, "phone": None}
    assert found[1][1]["extra"] == {"sku": "A"}


def test_the_documented_keep_in_extra_example(load: Loader) -> None:
    fields = doc_block("Keeping a value in extra")
    body = "    entity: conversion\n    external_id: id\n" + re.sub(r"(?m)^", "    ", fields)
    mappings: Mappings = load(f"source: s\nversion: 1\nstreams:\n  orders:\n{body}")
    row = root(mappings.compile("s", "orders"), {"id": 1, "landing_site": "/?utm_source=a"})
    assert row["channel_source"] == "a" and row["channel_medium"] is None
    assert row["extra"] == {"landing_site": "/?utm_source=a"}
