"""Corner cases of the generated ``extra`` pruners (nested objects pruned inline,
lists of objects, subtrees whose removals all depend on a coalesce).

Each case states the exact ``extra`` expected, for values of every shape the
pruner may meet at a place: an object, something else, an empty object.
"""

from __future__ import annotations

import copy
from collections import UserDict
from collections.abc import Callable
from typing import Any

import pytest

from hub.mapping import CompiledMapping
from hub.mapping.extra import GONE, _compile, build_tree, compile_pruner
from hub.mapping.paths import parse_path
from tests.hub.mapping.helpers import root, rows

Stream = Callable[..., CompiledMapping]

NESTED = """
external_id: id
fields:
  amount: {path: total.shop.amount, convert: decimal}
  currency: total.shop.currency
"""


@pytest.mark.parametrize(
    ("total", "left"),
    [
        ({"shop": {"amount": "1", "currency": "EUR"}}, None),  # emptied: gone at every level
        ({"shop": {"amount": "1", "note": "x"}, "b": 1}, {"shop": {"note": "x"}, "b": 1}),
        ({"shop": "text"}, {"shop": "text"}),  # not an object: kept as it is
        ({"shop": ["1"]}, {"shop": ["1"]}),
        ({"shop": {}}, {"shop": {}}),  # empty already: nothing was removed, so it stays
        ({}, {}),
        ("text", "text"),
        ([{"shop": {"amount": "1"}}], [{"shop": {"amount": "1"}}]),
    ],
)
def test_nested_objects(stream: Stream, total: Any, left: Any) -> None:
    record = {"id": 1, "total": total}
    before = copy.deepcopy(record)
    extra = root(stream(NESTED), record)["extra"]
    assert extra == ({} if left is None else {"total": left})
    assert record == before


COALESCE = """
external_id: id
fields:
  country: [billing.address.country, shipping.address.country]
"""


def test_the_unused_alternative_stays_whole(stream: Stream) -> None:
    mapping = stream(COALESCE)
    record = {
        "id": 1,
        "billing": {"address": {"country": "AT", "city": "Wien"}},
        "shipping": {"address": {"country": "DE", "city": "Köln"}},
    }
    extra = root(mapping, record)["extra"]
    assert extra == {
        "billing": {"address": {"city": "Wien"}},
        "shipping": {"address": {"country": "DE", "city": "Köln"}},
    }
    record["billing"] = None
    assert root(mapping, record)["extra"] == {
        "billing": None,
        "shipping": {"address": {"city": "Köln"}},
    }


def test_a_whole_object_or_one_of_its_keys(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          customer_ref: [contact.email, contact]
        """
    )
    extra = root(mapping, {"id": 1, "contact": {"email": "a@b", "name": "A"}})["extra"]
    assert extra == {"contact": {"name": "A"}}  # the key was used: only it goes
    extra = root(mapping, {"id": 1, "contact": {"name": "A"}, "x": 1})["extra"]
    assert extra == {"x": 1}  # the whole object was used: all of it goes
    extra = root(mapping, {"id": 1, "contact": "text", "x": 1})["extra"]
    assert extra == {"x": 1}


LIST = """
external_id: id
fields:
  voucher_codes: 'codes[].code'
"""


@pytest.mark.parametrize(
    ("codes", "left"),
    [
        ([{"code": "A"}, {"code": "B"}], None),  # every element emptied: the list goes
        ([{"code": "A", "amount": "1"}, {"code": "B"}], [{"amount": "1"}]),
        ([{"code": "A"}, "loose", None, {}], ["loose", None, {}]),
        ([[{"code": "A"}]], [[{"code": "A"}]]),  # not an object: kept
        ([], []),
        ({"code": "A"}, {"code": "A"}),  # not a list: kept
    ],
)
def test_lists_of_objects(stream: Stream, codes: Any, left: Any) -> None:
    record = {"id": 1, "codes": codes}
    before = copy.deepcopy(record)
    extra = root(stream(LIST), record)["extra"]
    assert extra == ({} if left is None else {"codes": left})
    assert record == before


def test_child_rows_prune_their_elements_the_same_way(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: conversion_item
            each: lines
            external_id: id
            parent_field: conversion_id
            fields:
              discount: {path: 'allocations[].amount', convert: sum}
              title: [name, title]
              refunded_quantity: {path: _hub.refunded, convert: int, default: 0}
        """
    )
    lines = [
        {
            "id": 1,
            "name": "N",
            "title": "T",
            "allocations": [{"amount": "1.00", "index": 0}, {"amount": "2.00"}],
            "_hub": {"refunded": 1},
        },
        {"id": 2, "title": "T", "allocations": [], "_hub": {}},
    ]
    found = [row["extra"] for entity, row in rows(mapping, {"id": 9, "lines": lines})[1:]]
    assert found == [
        {"title": "T", "allocations": [{"index": 0}]},
        {"allocations": [], "_hub": {}},
    ]


def test_lists_inside_list_elements(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          voucher_codes: 'codes[].parts[].text'
          order_ref: 'codes[].meta.ref'
        """
    )
    codes = [
        {"parts": [{"text": "A", "n": 1}, {"text": "B"}], "meta": {"ref": "r", "x": 1}, "k": 1},
        {"parts": [{"text": "C"}], "meta": {"ref": "s"}},
        {"parts": "text", "meta": None},
    ]
    record = {"id": 1, "codes": codes}
    before = copy.deepcopy(record)
    extra = root(mapping, record)["extra"]
    assert extra == {
        "codes": [
            {"parts": [{"n": 1}], "meta": {"x": 1}, "k": 1},
            {"parts": "text", "meta": None},
        ]
    }
    assert record == before


def _old_entry(root_node: Any) -> Callable[[Any, int], Any]:
    """The entry as it was before the root's removals moved into it: a call of the
    root's pruner, GONE read as ``{}``."""
    prune = _compile(root_node)

    def entry(x: Any, mask: int) -> Any:
        if x.__class__ is not dict:
            return dict(x) if isinstance(x, dict) else {}
        result = prune(x, mask)
        return {} if result is GONE else result

    return entry


class _Sub(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    "paths",
    [
        [("a", -1)],
        [("a", -1), ("b.c", -1), ("b.d", 1), ("e", 2), ("f[].g", -1), ("h[].i.j", 4)],
        [("x.y.z", 1), ("x.y.w", 2), ("l[]", -1)],
    ],
)
def test_the_entry_with_the_root_inline_prunes_as_before(paths: list[tuple[str, int]]) -> None:
    tree = build_tree([(parse_path(text), bits) for text, bits in paths])
    new, old = compile_pruner(tree), _old_entry(tree)
    records: list[Any] = [
        {},
        {"a": 1},  # pruned down to nothing
        {"a": 1, "b": {"c": 1, "d": 2}, "e": 3, "zz": 4},
        {"b": {"c": 1}, "f": [{"g": 1}, {"g": 2, "k": 3}, "s", None], "h": [{"i": {"j": 1}}]},
        {"b": "text", "f": "text", "h": [{"i": "t"}], "x": {"y": {"z": 1, "w": 2}}, "l": [1]},
        {"x": {"y": {"z": 1}}, "l": []},
        _Sub(a=1, b=2),  # a dict subclass: copied whole, as before
        UserDict({"a": 1}),
        [{"a": 1}],
        "text",
        None,
    ]
    for record in records:
        before = copy.deepcopy(record)
        for mask in (0, 1, 2, 4, 7):
            got, expected = new(record, mask), old(record, mask)
            assert got == expected and type(got) is type(expected), (record, mask)
            if isinstance(record, dict) and record:
                assert got is not record  # a new dict, never the record itself
        assert record == before
