"""Helpers for the mapping tests: write a mapping file, load it, map a record."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.errors import MappingFileError, Problem
from hub.mapping import CompiledMapping, Mappings

Loader = Callable[..., Mappings]


@pytest.fixture
def load(tmp_path: Path) -> Loader:
    """``load(yaml_text, name=..., converters=...)``: write the file and read it."""

    def load(
        text: str, name: str = "test.yaml", converters: dict[str, Any] | None = None
    ) -> Mappings:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return Mappings([path], converters)

    return load


@pytest.fixture
def problems(load: Loader) -> Callable[[str], list[Problem]]:
    """``problems(yaml_text)``: the problems loading it reports (it must fail)."""

    def problems(text: str) -> list[Problem]:
        with pytest.raises(MappingFileError) as caught:
            load(text)
        return caught.value.problems

    return problems


@pytest.fixture
def stream(load: Loader) -> Callable[..., CompiledMapping]:
    """``stream(body)``: compile a one-stream file; ``body`` is the stream's YAML, indented 0."""

    def stream(body: str, entity: str = "conversion", converters: Any = None) -> CompiledMapping:
        indented = textwrap.indent(textwrap.dedent(body), " " * 4)
        text = f"source: test\nversion: 1\nstreams:\n  items:\n    entity: {entity}\n{indented}"
        return load(text, converters=converters).compile("test", "items")

    return stream
