"""Fixtures for the end-to-end tests: the database `hub` writes to, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, scratch_database


@pytest.fixture(params=BACKENDS)
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database URL for the hub.yaml's ``database:``, on SQLite and PostgreSQL."""
    with scratch_database(request.param, tmp_path) as url:
        yield url
