"""Shortcuts for calling a compiled mapping in tests."""

from __future__ import annotations

from typing import Any

from hub.mapping import CompiledMapping


def rows(mapping: CompiledMapping, record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return mapping(record, tenant="acme", connection="shop")


def root(mapping: CompiledMapping, record: dict[str, Any]) -> dict[str, Any]:
    """The root row of ``record``."""
    return rows(mapping, record)[0][1]
