"""Inline converter fast paths (hub.mapping.inline): the same result as the converter itself.

Each inlined converter is run through a compiled mapping on inputs that take
the fast path and on inputs that fall back to the call, and compared with
calling the converter directly (value and type; errors too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import RecordError
from hub.mapping import BUILTIN_CONVERTERS, CompiledMapping
from hub.mapping import converters as C
from tests.hub.mapping.helpers import root

Stream = Callable[..., CompiledMapping]

#: converter -> (a nullable conversion column, inputs taking the fast path and the fallback);
#: the mapping does not validate rows, so the column's type does not matter here.
CASES: dict[str, tuple[str, list[Any]]] = {
    "string": ("order_ref", ["A-1", 42, -7, True, False, 1.5, Decimal("2.50"), date(2025, 1, 2)]),
    "int": ("click_ref", [3, "12", " 4 ", 2.0, Decimal("5"), True, 1.5, "x", ""]),
    "bool": ("device", [True, False, "yes", "off", 1, 0, 2, "maybe", ""]),
    "upper": ("currency", ["eur", "Straße", 12, False, Decimal("1.0")]),
    "lower": ("currency", ["EUR", "İ", 12, True]),
    "strip": ("currency", [" EUR ", "", 12, Decimal("3.10")]),
    "decimal": ("amount", ["12.00", " 3.5 ", "1e3", "", "NaN", "abc", 7, 1.1, True, "12.00"]),
    "timestamp": (
        "occurred_at",
        [
            "2025-03-14T16:20:05+01:00",
            "2025-03-14T16:20:05+01:00",  # read a second time: from the cache
            "2025-03-14T16:20:05Z",
            "2025-03-14T16:20:05",  # no offset: an error
            " 2025-03-14T16:20:05+01:00 ",
            "",
            "not a time",
            datetime(2025, 3, 14, 15, 20, 5, tzinfo=UTC),
            12,
        ],
    ),
}


def _plain_call(mapping: CompiledMapping) -> bool:
    return re.search(r"^\s*v = _conv\d+\(v\)$", mapping.source_code, re.MULTILINE) is not None


def _direct(name: str, value: Any) -> tuple[str, Any]:
    try:
        return "ok", BUILTIN_CONVERTERS[name](value)
    except (TypeError, ValueError) as exc:
        return "error", str(exc)


def _mapped(mapping: CompiledMapping, column: str, value: Any) -> tuple[str, Any]:
    try:
        return "ok", root(mapping, {"id": 1, "v": value})[column]
    except RecordError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("name", sorted(CASES))
def test_inlined_converters_give_the_converters_results(stream: Stream, name: str) -> None:
    column, values = CASES[name]
    mapping = stream(f"external_id: id\nfields:\n  {column}: {{path: v, convert: {name}}}\n")
    assert not _plain_call(mapping)  # the fast path is in the code
    for value in values:
        kind, expected = _direct(name, value)
        got_kind, got = _mapped(mapping, column, value)
        assert got_kind == kind, (name, value, got)
        if kind == "ok":
            assert got == expected and type(got) is type(expected), (name, value, got)
        else:
            assert expected in got, (name, value, got)


def test_converters_with_args_get_them_as_keywords(stream: Stream) -> None:
    mapping = stream(
        """
        external_id: id
        fields:
          amount: {path: n, convert: decimal, args: {places: 1}}
          order_ref: {path: u, convert: [strip, {query_param: {name: [a, b]}}]}
        """
    )
    assert re.search(r"v = _conv\d+\(v, places=_arg\d+\)$", mapping.source_code, re.MULTILINE)
    assert re.search(r"v = _conv\d+\(v, name=_arg\d+\)$", mapping.source_code, re.MULTILINE)
    row = root(mapping, {"id": 1, "n": "2.25", "u": " /?b=2&a=1 "})
    assert (row["amount"], row["order_ref"]) == (Decimal("2.3"), "1")
    assert root(mapping, {"id": 1, "u": "/?b=2"})["order_ref"] == "2"


def test_converters_taking_any_keyword_keep_their_partial(stream: Stream) -> None:
    def tag(value: Any, **labels: Any) -> str:
        return f"{value}:{','.join(f'{k}={v}' for k, v in sorted(labels.items()))}"

    mapping = stream(
        """
        external_id: id
        fields:
          order_ref: {path: v, convert: tag, args: {a-b: 1, c: x}}
        """,
        converters={"tag": tag},
    )
    assert _plain_call(mapping)  # 'a-b' is no Python name: the partial stays
    assert root(mapping, {"id": 1, "v": "o"})["order_ref"] == "o:a-b=1,c=x"


def test_a_plugin_converter_is_never_inlined(stream: Stream) -> None:
    mapping = stream(
        "external_id: id\nfields:\n  currency: {path: v, convert: shout}\n",
        converters={"shout": lambda value: f"{value}!"},
    )
    assert _plain_call(mapping)
    assert root(mapping, {"id": 1, "v": "eur"})["currency"] == "eur!"


def test_ids_from_numbers_and_text_as_before(stream: Stream) -> None:
    mapping = stream("external_id: id\nfields: {}\n")
    for value, text in [(7, "7"), ("7", "7"), (True, "true"), (1.5, "1.5"), (Decimal("2"), "2")]:
        assert root(mapping, {"id": value})["external_id"] == text
    with pytest.raises(RecordError, match="an id must be text or a number"):
        root(mapping, {"id": [1]})


def test_the_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "_DECIMALS_SIZE", 2)
    monkeypatch.setattr(C, "_INSTANTS_SIZE", 2)
    C._DECIMALS.clear()
    C._INSTANTS.clear()
    for number in range(5):
        assert C.to_decimal(f"{number}.50") == Decimal(number) + Decimal("0.5")
        instant = C.to_timestamp(f"2025-01-0{number + 1}T00:00:00Z")
        assert instant is not None and instant.day == number + 1
    assert len(C._DECIMALS) <= 2 and len(C._INSTANTS) <= 2
    with pytest.raises(ValueError, match="finite"):
        C.to_decimal("Infinity")  # never cached: refused every time
    assert "Infinity" not in C._DECIMALS
    assert C.to_timestamp("2025-01-01T12:00:00", timezone="Europe/Berlin") == datetime(
        2025, 1, 1, 11, tzinfo=UTC
    )
    assert "2025-01-01T12:00:00" not in C._INSTANTS  # with args the cache is not used
