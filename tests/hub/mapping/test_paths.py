"""The path grammar and what each path form reads."""

from __future__ import annotations

from typing import Any

import pytest

from hub.mapping.paths import Each, Filter, Key, PathError, compile_getter, parse_path

RECORD: dict[str, Any] = {
    "id": 7,
    "customer": {"email": "a@b.c", "address": {"country": "AT"}},
    "items": [{"sku": "A", "qty": 1}, {"sku": None, "qty": 2}, {"qty": 3}, {"sku": "D"}],
    "notes": [
        {"name": "awc", "value": "15880_1"},
        {"name": "gift", "value": "hi"},
        {"name": "awc", "value": "15880_2"},
        {"name": 5, "value": "numeric name"},
        "not a mapping",
    ],
    "refunds": [
        {"transactions": [{"kind": "refund", "ok": True, "amount": "1"}, {"kind": "x"}]},
        {"transactions": [{"kind": "refund", "ok": False, "amount": "2"}]},
        {"transactions": None},
    ],
    "matrix": [[1, 2], [3], None],
    "dotted": None,
}


def read(text: str, value: Any = RECORD) -> Any:
    return compile_getter(parse_path(text))(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id", 7),
        ("customer.email", "a@b.c"),
        ("customer.address.country", "AT"),
        ("customer.missing", None),
        ("missing.deeper.still", None),
        ("dotted.x", None),  # null on the way
        ("id.x", None),  # a scalar has no keys
        ("items.0.sku", "A"),
        ("items.-1.sku", "D"),
        ("items.9.sku", None),
        ("items[].sku", ["A", "D"]),  # nulls dropped
        ("items[].qty", [1, 2, 3]),
        ("missing[].sku", []),  # collecting always gives a list
        ("notes[name=awc].value", "15880_1"),  # first match
        ("notes[?name=awc].value", ["15880_1", "15880_2"]),  # every match
        ("notes[name=5].value", "numeric name"),  # compared as text
        ("notes[name=none].value", None),
        ("refunds[].transactions[?kind=refund].amount", ["1", "2"]),
        ("refunds[].transactions[kind=refund&ok=true].amount", ["1"]),
        ("matrix[][]", [1, 2, 3]),  # nested collections flatten
        ("$", RECORD),
    ],
)
def test_reads(text: str, expected: Any) -> None:
    assert read(text) == expected


def test_whole_record_and_prefixes_parse() -> None:
    assert parse_path("$").base == "record" and parse_path("$").is_whole
    assert parse_path("$.a.b").segments == (Key("a"), Key("b"))
    assert parse_path("^").base == "parent"
    assert parse_path("^.currency").segments == (Key("currency"),)
    assert parse_path("#").base == "index"
    assert parse_path("$oid").segments == (Key("$oid"),)  # only a leading `$.` is special


def test_segments() -> None:
    path = parse_path("a.0[].b[name=x&kind=y][?z=]")
    assert path.segments == (
        Key("a"),
        Key("0", 0),
        Each(),
        Key("b"),
        Filter((("name", "x"), ("kind", "y")), first=True),
        Filter((("z", ""),), first=False),
    )
    assert path.collects
    assert not parse_path("a[k=v].b").collects
    assert parse_path("a.b").is_simple and not parse_path("a[].b").is_simple


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" a", "spaces"),
        ("a..b", "empty key"),
        (".a", "empty key"),
        ("a.", "ends with a dot"),
        ("a[", "without a closing"),
        ("a]", "without an opening"),
        ("[]", "needs a key before it"),
        ("a[]b", "expected '\\.' or"),
        ("a[name]", "key=value"),
        ("a[=x]", "key=value"),
        ("$.", "ends after"),
        (5, "must be text"),
    ],
)
def test_malformed(text: Any, message: str) -> None:
    with pytest.raises(PathError, match=message) as caught:
        parse_path(text)
    assert caught.value.hint  # every mistake comes with a fix


def test_non_dict_mappings_and_lists() -> None:
    from types import MappingProxyType

    value = MappingProxyType({"a": MappingProxyType({"b": 1})})
    assert read("a.b", value) == 1
    assert read("a[]", {"a": "not a list"}) == []
    assert read("a[x=1].y", {"a": {"x": "1"}}) is None
