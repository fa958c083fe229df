"""`merge: fill` children: references that create a missing entity and only fill its gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import MappingFileError
from hub.mapping import Mappings

SALES = """\
source: shop
version: 1
streams:
  sales:
    entity: conversion
    external_id: id
    fields: {{currency: {{value: EUR}}}}
    children:
      - entity: partner
        external_id: partner_id
        merge: {merge}
        fields: {{name: partner_name}}
"""


def load(tmp_path: Path, text: str) -> Mappings:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    return Mappings([path])


def test_fill_children_are_reported_to_the_runner(tmp_path: Path) -> None:
    mapping = load(tmp_path, SALES.format(merge="fill")).compile("shop", "sales")
    assert mapping.fill_entities == frozenset({"partner"})
    rows = mapping(
        {"id": 1, "partner_id": "P1", "partner_name": "Blog"}, tenant="t", connection="c"
    )
    assert [entity for entity, _ in rows] == ["conversion", "partner"]
    assert (
        load(tmp_path, SALES.format(merge="replace")).compile("shop", "sales").fill_entities
        == frozenset()
    )


def test_an_unknown_merge_mode_names_line_and_choices(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError) as info:
        load(tmp_path, SALES.format(merge="overwrite"))
    problem = info.value.problems[0]
    assert problem.location.endswith("merge") and problem.line == 11
    assert "replace or fill" in problem.message


def test_one_entity_cannot_be_both_filled_and_replaced(tmp_path: Path) -> None:
    text = (
        SALES.format(merge="fill")
        + """\
      - entity: partner
        external_id: other_partner_id
        fields: {name: other_name}
"""
    )
    with pytest.raises(MappingFileError, match="both with merge: fill and as full versions"):
        load(tmp_path, text)


def test_the_root_cannot_be_a_fill_row(tmp_path: Path) -> None:
    text = SALES.format(merge="fill").replace(
        "    entity: conversion\n", "    entity: conversion\n    merge: fill\n"
    )
    with pytest.raises(MappingFileError, match="merge"):
        load(tmp_path, text)
