"""Fast paths of the mapping runtime against the slow, obvious implementations.

``query_param`` reads relative URLs itself (urlsplit + parse_qs otherwise);
``fast_make_id`` must stay identical to ``hub.schema.make_id``; each-children
read keys of a dict element with its own ``get`` and of anything else as
before. Each is checked over tricky inputs so a difference shows here, not in
stored rows.
"""

from __future__ import annotations

import hashlib
import random
from collections import UserDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.mapping import CompiledMapping
from hub.mapping import converters as C
from hub.mapping.ids import fast_make_id
from hub.schema import make_id
from tests.hub.mapping.helpers import rows

Stream = Callable[..., CompiledMapping]

URLS = [
    "/de-ch/products/rucksack?awc=15880_1741_2c4f&utm_source=awin&utm_medium=affiliate",
    "/?awc=1&awc=2",  # the first value wins
    "/?awc=&awc=3",  # blank values are skipped
    "/?awc&utm_source=x",  # a name without '='
    "/?=v&utm_source=a+b%20c",  # empty name; '+' and %-escapes
    "/?utm%5Fsource=escaped+name",
    "/?a=1&&b=2&",
    "/?a=%E2%9B%B0%EF%B8%8F&b=%ZZ&c=%",  # emoji, a broken escape, a lone '%'
    "/path?a=1#frag?b=2",  # a fragment ends the query
    "/path#frag?a=1",
    "/path",
    "/",
    "/?",
    "/?a=x=y",  # '=' inside the value
    "/?a=1\t&b=2",  # urlsplit drops tabs and newlines: the slow path
    "/?a=1\n",
    "//host/?a=1",  # a host: the slow path
    "https://shop.example/?a=1&b=",
    "HTTPS://shop.example/p?a=%41#x",
    "?a=1",
    "a=1",
    " /?a=1",
    "",
]


@pytest.mark.parametrize("url", URLS)
def test_query_param_reads_like_parse_qs(url: str) -> None:
    C._QUERIES.clear()
    query = parse_qs(urlsplit(url).query, keep_blank_values=False)
    names = {*query, "a", "b", "c", "awc", "utm_source", "", "missing"}
    for _ in range(2):  # the second time from the cache
        for name in sorted(names):
            expected = query[name][0] if name in query else None
            assert C.query_param(url, name=name) == expected, (url, name)
        assert C.query_param(url, name=["missing", *sorted(query)]) == (
            query[sorted(query)[0]][0] if query else None
        )


def test_query_param_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "_QUERIES_SIZE", 3)
    C._QUERIES.clear()
    for number in range(10):
        assert C.query_param(f"/?n={number}", name="n") == str(number)
    assert len(C._QUERIES) <= 3


def test_fast_make_id_is_make_id() -> None:
    rng = random.Random(8)
    assert fast_make_id is not make_id  # the fast twin passed its self-check
    alphabet = "az09:-_/ .|\x1f€⛰️Zürich\U0001f600"
    for _ in range(3000):
        parts = ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(4)]
        assert fast_make_id(*parts) == make_id(*parts), parts


def test_elements_that_are_not_dicts_are_read_as_before(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        children:
          - entity: conversion_item
            each: lines
            external_id: id
            parent_field: conversion_id
            fields:
              sku: sku
              title: '$.0'
        """
    )
    lines: list[Any] = [
        {"id": 1, "sku": "A"},
        UserDict({"id": 2, "sku": "B"}),  # a mapping, not a dict: read through get
        ["x", "y"],  # not a mapping: no id, so no row
        "text",
        None,
    ]
    found = [row for _, row in rows(mapping, {"id": 9, "lines": lines})[1:]]
    assert [(row["external_id"], row["sku"], row["title"]) for row in found] == [
        ("9:1", "A", None),
        ("9:2", "B", None),
    ]
    assert "Eg = E.get if E.__class__ is dict else _key_reader(E)" in mapping.source_code


def _plain_total(value: Any, *, places: int | None = None) -> Any:
    """``sum`` as it was before its fast paths: to_decimal per item, then _checked."""
    items = value if isinstance(value, list) else [value]
    result = C._ZERO
    for item in items:
        if item is not None:
            number = C.to_decimal(item)
            if number is not None:
                result += number
    return result if places is None else C._checked(result, places)


TOTALS: list[Any] = [
    [],
    ["1.50", "0.25"],
    ["1.005", " 2 ", "", None, 3, 1.1, Decimal("-0")],
    ["0.00"],
    "12.345",  # not a list: the value itself
    7,
    [True],
    ["x"],
    [[1]],
    ["NaN"],
]


@pytest.mark.parametrize("value", TOTALS, ids=repr)
@pytest.mark.parametrize("places", [None, 0, 2, 12, True, 13])
def test_sum_reads_like_the_plain_sum(value: Any, places: Any) -> None:
    def outcome(function: Callable[..., Any]) -> tuple[str, str]:
        try:
            result = function(value, places=places)
        except Exception as exc:  # the same error is the point
            return type(exc).__name__, str(exc)
        return type(result).__name__, repr(result)

    for cached in (False, True):  # texts read for the first time, then from the cache
        if not cached:
            C._DECIMALS.clear()
        expected = outcome(_plain_total)
        if not cached:
            C._DECIMALS.clear()
        assert outcome(C.total) == expected, (value, places, cached)


def test_the_sum_of_nothing_is_a_zero_with_its_places() -> None:
    for places in range(13):
        zero = C.total([], places=places)
        assert zero is not None
        assert repr(zero) == repr(C._checked(C._ZERO, places))
        assert zero.as_tuple().exponent == -places


@pytest.mark.parametrize("value", [0, 1, -17, 7788000000001, 10**40, True, False, " 12 ", "A@B"])
def test_hash_of_an_int_is_the_hash_of_its_text(value: Any) -> None:
    expected = None
    text = C.to_string(value).strip().lower()
    if text:
        expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert C.hash_value(value) == expected
