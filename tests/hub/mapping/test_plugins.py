"""Converters (and mapping files) contributed by a plugin through the registry."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hub import plugins
from hub.hookspecs import hookimpl
from hub.mapping import load_mappings
from tests.hub.mapping.helpers import root

PLUGIN_NAME = "test-mapping-plugin"


def awin_click(record: dict[str, Any], *, names: list[str]) -> str | None:
    """The click id from the cart attributes, or from the landing page's query."""
    for attribute in record.get("note_attributes") or []:
        if attribute.get("name") in names and attribute.get("value"):
            return str(attribute["value"])
    query = parse_qs(urlsplit(record.get("landing_site") or "").query)
    return next((query[name][0] for name in names if name in query), None)


MAPPING = """
source: plugin_shop
streams:
  orders:
    entity: conversion
    external_id: id
    fields:
      click_ref: {path: $, convert: awin_click, args: {names: [awc, click_id]}}
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """A plugin module registering one converter and one mapping file, alone in the host."""
    mapping_file = tmp_path / "plugin_shop.yaml"
    mapping_file.write_text(MAPPING, encoding="utf-8")
    module = types.ModuleType("hub_test_mapping_plugin")

    @hookimpl
    def hub_register_converters(register: Any) -> None:
        register("awin_click", awin_click)

    @hookimpl
    def hub_register_mappings(register: Any) -> None:
        register(mapping_file)

    module.hub_register_converters = hub_register_converters  # type: ignore[attr-defined]
    module.hub_register_mappings = hub_register_mappings  # type: ignore[attr-defined]
    # A plugin host of our own, with no entry-point plugins: other packages' files stay out.
    monkeypatch.setenv("HUB_PLUGINS", "")
    monkeypatch.setattr(plugins, "_manager", None)
    plugins.reset_registry()
    plugins.register_plugin(module, name=PLUGIN_NAME)
    try:
        yield module
    finally:
        plugins.unregister_plugin(PLUGIN_NAME)
        plugins.reset_registry()


def test_plugin_converter_is_used_by_mappings(plugin: types.ModuleType) -> None:
    registry = plugins.get_registry()
    assert registry.converters["awin_click"].plugin == PLUGIN_NAME
    mappings = load_mappings()
    assert mappings.has("plugin_shop", "orders")
    mapping = mappings.compile("plugin_shop", "orders")
    by_attribute = {"id": 1, "note_attributes": [{"name": "awc", "value": "15880_1"}]}
    by_landing = {"id": 2, "landing_site": "/p?click_id=abc"}
    assert root(mapping, by_attribute)["click_ref"] == "15880_1"
    assert root(mapping, by_landing)["click_ref"] == "abc"
    # `$` reads the whole record without placing it: everything stays in extra
    assert root(mapping, by_landing)["extra"] == {"landing_site": "/p?click_id=abc"}


def test_plugin_converter_args_are_checked_at_load(
    plugin: types.ModuleType, tmp_path: Path
) -> None:
    from hub.errors import MappingFileError

    bad = tmp_path / "bad.yaml"
    bad.write_text(MAPPING.replace("names:", "nams:").replace("plugin_shop", "other"))
    with pytest.raises(MappingFileError) as caught:
        load_mappings([bad])
    (problem,) = caught.value.problems
    assert problem.file == str(bad)
    assert "cannot take these args" in problem.message
    assert problem.hint == "it takes: names"


def test_extra_files_replace_plugin_streams(plugin: types.ModuleType, tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(MAPPING.replace("external_id: id", "external_id: name"))
    mapping = load_mappings([mine]).compile("plugin_shop", "orders")
    assert root(mapping, {"id": 1, "name": "#1001"})["external_id"] == "#1001"


def test_without_the_plugin_the_converter_is_unknown(tmp_path: Path) -> None:
    from hub.errors import MappingFileError
    from hub.mapping import Mappings

    path = tmp_path / "m.yaml"
    path.write_text(MAPPING)
    with pytest.raises(MappingFileError, match="unknown converter 'awin_click'"):
        Mappings([path])
