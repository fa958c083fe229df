"""Shared fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub import plugins, redaction


@pytest.fixture(autouse=True)
def _isolated_secrets() -> Iterator[None]:
    """Every test starts with no registered secrets."""
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.fixture
def registry() -> Iterator[plugins.Registry]:
    """The plugin registry, rebuilt for this test and forgotten afterwards."""
    plugins.reset_registry()
    yield plugins.get_registry()
    plugins.reset_registry()
