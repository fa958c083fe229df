"""Load-time validation: every problem with its file, line, location and fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.errors import MappingFileError, PluginError, Problem
from hub.mapping import Mappings

Problems = Callable[[str], list[Problem]]

HEADER = "source: test\nversion: 1\nstreams:\n  orders:\n"  # the stream body starts on line 5


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, found
    return found[0]


def check(
    problems: Problems,
    body: str,
    *,
    line: int,
    location: str,
    message: str,
    hint: str | None = None,
) -> Problem:
    """Load HEADER + body (indented 4); exactly one problem, at ``line``."""
    problem = only(problems(HEADER + body))
    assert problem.file.endswith("test.yaml")
    assert problem.line == line, problem
    assert problem.location == location, problem
    assert message in problem.message, problem
    if hint is not None:
        assert problem.hint is not None and hint in problem.hint, problem
    else:
        assert problem.hint, "every problem says how to fix it"
    return problem


def test_unknown_column_suggests_the_closest(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    fields:\n      ammount: total\n",
        line=8,
        location="streams.orders.fields.ammount",
        message="unknown column 'ammount' of conversion (did you mean amount?)",
        hint="columns of conversion: amount,",
    )


def test_unknown_entity(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversoin\n    external_id: id\n",
        line=5,
        location="streams.orders.entity",
        message="unknown entity 'conversoin' (did you mean conversion",
        hint="partner, offer, sku, click, conversion, conversion_item",
    )


def test_unknown_converter_lists_close_ones(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    fields:\n"
        "      amount: {path: total, convert: decimel}\n",
        line=8,
        location="streams.orders.fields.amount.convert",
        message="unknown converter 'decimel' (did you mean decimal?)",
        hint="hub_register_converters",
    )


def test_unknown_converter_in_a_chain(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    fields:\n      currency:\n"
        "        path: c\n        convert: [strip, uper]\n",
        line=10,
        location="streams.orders.fields.currency.convert",
        message="unknown converter 'uper' (did you mean upper?)",
    )


def test_malformed_path(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    fields:\n      amount: a..b\n",
        line=8,
        location="streams.orders.fields.amount",
        message="malformed path: path 'a..b': empty key",
        hint="remove the doubled or leading dot",
    )


@pytest.mark.parametrize("column", ["tenant", "source", "connection", "id"])
def test_envelope_fields_cannot_be_set(problems: Problems, column: str) -> None:
    check(
        problems,
        f"    entity: conversion\n    external_id: id\n    fields:\n      {column}: x\n",
        line=8,
        location=f"streams.orders.fields.{column}",
        message=f"'{column}' is an envelope column the engine sets",
        hint="tenant isolation",
    )


def test_external_id_and_extra_have_their_own_keys(problems: Problems) -> None:
    found = problems(
        HEADER + "    entity: conversion\n    external_id: id\n    fields:\n"
        "      external_id: x\n      extra: y\n      synced_at: z\n"
    )
    assert [p.line for p in found] == [8, 9, 10]
    assert "`external_id:` key" in (found[0].hint or "")
    assert "lands in extra" in (found[1].hint or "")
    assert "runner stamps" in (found[2].hint or "")


def test_each_on_the_root(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    each: line_items\n",
        line=7,
        location="streams.orders.each",
        message="`each` belongs to children",
        hint="move this into a child",
    )


def test_index_path_outside_each(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    children:\n"
        "      - entity: partner\n        external_id: '#'\n",
        line=9,
        location="streams.orders.children.0.external_id",
        message="exists only inside a child with `each`",
    )


def test_parent_path_on_the_root(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    fields:\n      currency: ^.currency\n",
        line=8,
        location="streams.orders.fields.currency",
        message="reads the parent record",
        hint="remove the '^.' prefix",
    )


def test_parent_field_not_a_column(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    children:\n"
        "      - entity: conversion_item\n        each: items\n        external_id: id\n"
        "        parent_field: conversion_ref\n",
        line=11,
        location="streams.orders.children.0.parent_field",
        message="parent_field 'conversion_ref' is not a column of conversion_item "
        "(did you mean conversion_id?)",
    )


def test_parent_field_envelope_and_clash(problems: Problems) -> None:
    found = problems(
        HEADER + "    entity: conversion\n    external_id: id\n    children:\n"
        "      - entity: conversion_item\n        each: items\n        external_id: id\n"
        "        parent_field: conversion_id\n        fields: {conversion_id: x}\n"
        "      - entity: conversion_item\n        each: items\n        external_id: id\n"
        "        parent_field: id\n"
    )
    assert [(p.line, p.location) for p in found] == [
        (12, "streams.orders.children.0.fields.conversion_id"),
        (16, "streams.orders.children.1.parent_field"),
    ]
    assert "also the child's parent_field" in found[0].message
    assert "envelope column" in found[1].message


def test_nested_children(problems: Problems) -> None:
    check(
        problems,
        "    entity: conversion\n    external_id: id\n    children:\n"
        "      - entity: partner\n        external_id: p\n        children: []\n",
        line=10,
        location="streams.orders.children.0.children",
        message="children cannot have children",
    )


def test_missing_external_id_and_entity(problems: Problems) -> None:
    found = problems(HEADER + "    fields: {}\n")
    messages = sorted(p.message for p in found)
    assert any("missing `entity`" in m for m in messages)
    assert any("needs `external_id`" in m for m in messages)
    assert all(p.line == 5 for p in found)


def test_unknown_keys(problems: Problems) -> None:
    found = problems(
        "source: test\nstreams:\n  orders:\n    entity: conversion\n    external_id: id\n"
        "    feilds: {}\n    fields:\n      amount: {path: total, conver: decimal}\nsorce: x\n"
    )
    assert [(p.line, p.location) for p in found] == [
        (9, "sorce"),
        (6, "streams.orders.feilds"),
        (8, "streams.orders.fields.amount.conver"),
    ]
    assert "did you mean fields?" in found[1].message
    assert "did you mean convert?" in found[2].message


def test_args_are_checked_against_the_converter(problems: Problems) -> None:
    found = problems(
        HEADER + "    entity: conversion\n    external_id: id\n    fields:\n"
        "      currency: {path: c, convert: upper, args: {sep: x}}\n"
        "      occurred_at: {path: t, convert: timestamp, args: {timezone: Mars/Olympus}}\n"
        "      validated_at: {path: t, convert: [strip, {timestamp: {zone: UTC}}]}\n"
        "      amount: {path: t, args: {places: 2}}\n"
        "      device: {path: t, convert: [strip, upper], args: {x: 1}}\n"
    )
    assert [p.line for p in found] == [8, 9, 10, 11, 12]
    assert (
        "cannot take these args" in found[0].message and found[0].hint == "it takes: no arguments"
    )
    assert "unknown time zone 'Mars/Olympus'" in found[1].message
    assert "cannot take these args" in found[2].message
    assert found[2].location.endswith("validated_at.convert.1.timestamp")
    assert "timezone" in (found[2].hint or "")
    assert "args without convert" in found[3].message
    assert "ambiguous" in found[4].message


def test_value_specs(problems: Problems) -> None:
    found = problems(
        HEADER + "    entity: conversion\n    external_id: id\n    fields:\n"
        "      amount: {path: a, value: 1}\n"  # 8
        "      currency: {convert: upper}\n"  # 9
        "      is_test: 5\n"  # 10
        "      status: {path: s, map: [paid]}\n"  # 11
        "      device: {path: d, map: {a: b}, unmapped: drop}\n"  # 12
        "      partner_id: {path: p, ref: partnr}\n"  # 13
        "      order_ref: {template: 'no placeholders'}\n"  # 14
        "      click_ref: {coalesce: [a]}\n"  # 15
        "      refunded_amount: {value: abc, convert: decimal}\n"  # 16
        "      commission_amount: {path: x, convert: decimal, default: abc}\n"  # 17
        "      channel_source: {template: '{a'}\n"  # 18
        "      channel_medium: {path: m, required: yes please}\n"  # 19
        "      country: {coalesce: [{path: [a, b]}, c]}\n"  # 20
    )
    by_line = {p.line: p for p in found}
    assert sorted(by_line) == list(range(8, 21))
    assert "exactly one of path, value, template or coalesce (found path, value)" in (
        by_line[8].message
    )
    assert "exactly one of" in by_line[9].message
    assert "{value: 5}" in (by_line[10].hint or "")
    assert "map must be a non-empty mapping" in by_line[11].message
    assert "unmapped must be null, keep or error" in by_line[12].message
    assert "did you mean partner?" in by_line[13].message
    assert "no {path} placeholder" in by_line[14].message
    assert "at least two" in by_line[15].message
    assert "value 'abc' does not convert" in by_line[16].message
    assert "default 'abc' does not convert" in by_line[17].message
    assert "'{' without a closing '}'" in by_line[18].message
    assert "required must be true or false" in by_line[19].message
    assert "inside coalesce a value reads one path" in by_line[20].message


def test_file_header(problems: Problems) -> None:
    found = problems("version: 2\nstreams: {}\n")
    assert [(p.location, p.line) for p in found] == [
        ("source", 1),  # missing: reported at the top of the file
        ("version", 1),
        ("streams", 2),
    ]


def test_yaml_syntax_error_has_its_line(problems: Problems) -> None:
    problem = only(problems("source: test\nstreams:\n  orders: {entity: [}\n"))
    assert problem.line == 3
    assert "not valid YAML" in problem.message


def test_unquoted_brackets_in_flow_mapping_get_a_quoting_hint(problems: Problems) -> None:
    problem = only(
        problems(
            HEADER + "    entity: conversion\n    external_id: id\n    fields:\n"
            "      voucher_codes: {path: codes[].code}\n"
        )
    )
    assert problem.line == 8
    assert "quote" in (problem.hint or "")


def test_duplicate_keys_are_reported(problems: Problems) -> None:
    problem = only(
        problems(HEADER + "    entity: conversion\n    external_id: id\n    external_id: x\n")
    )
    assert problem.line == 7
    assert "appears twice" in problem.message and "line 6" in problem.message


def test_all_problems_of_all_files_at_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(HEADER + "    entity: nope\n    external_id: id\n")
    second.write_text(HEADER + "    entity: partner\n    external_id: id\n    fields: {x: y}\n")
    with pytest.raises(MappingFileError) as caught:
        Mappings([first, second])
    files = [Path(p.file).name for p in caught.value.problems]
    assert files == ["a.yaml", "b.yaml"]
    text = str(caught.value)
    assert text.startswith("2 problems:")
    assert f"{first}:5: streams.orders.entity: unknown entity 'nope'" in text
    assert "Fix:" in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError, match="cannot read the file"):
        Mappings([tmp_path / "nowhere.yaml"])


def test_unsafe_yaml_is_refused(problems: Problems) -> None:
    problem = only(problems("source: !!python/object/apply:os.system ['true']\nstreams: {}\n"))
    assert "not valid YAML" in problem.message


def test_plugin_converter_may_not_shadow_a_builtin(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="decimal"):
        Mappings([], {"decimal": lambda value: value})


def test_each_paths(problems: Problems) -> None:
    found = problems(
        HEADER + "    entity: conversion\n    external_id: id\n    children:\n"
        "      - {entity: conversion_item, each: ^.items, external_id: id}\n"
        "      - {entity: conversion_item, each: $, external_id: id}\n"
        "      - {entity: conversion_item, each: 'items[', external_id: id}\n"
    )
    assert [(p.line, p.location) for p in found] == [
        (8, "streams.orders.children.0.each"),
        (9, "streams.orders.children.1.each"),
        (10, "streams.orders.children.2.each"),
    ]
    assert "each: items" in (found[0].hint or "")
    assert "not a list inside the record" in found[1].message
    assert "malformed path" in found[2].message
