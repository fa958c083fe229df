"""hub-connector-csv: a third-party Partner Hub plugin reading CSV and JSON Lines exports.

Installed next to ``partner-hub``, it is found through the ``partner_hub``
entry-point group (see this distribution's ``pyproject.toml``); nothing in
the hub changes. It registers the ``csv`` source connector and the mapping
file that normalizes its ``conversions`` and ``partners`` streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.hookspecs import hookimpl
from hub_connector_csv.config import CsvConfig, StreamSpec
from hub_connector_csv.connector import CsvConnector

__all__ = ["MAPPING_FILE", "SAMPLE_DIRECTORY", "CsvConfig", "CsvConnector", "StreamSpec"]
__version__ = "0.1.0"

#: Shipped as package data; maps the default streams onto the canonical schema.
MAPPING_FILE = Path(__file__).with_name("mapping.yaml")
#: Sample exports (conversions, partners), also package data: `hub demo` syncs them.
SAMPLE_DIRECTORY = Path(__file__).with_name("sample")


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    """The ``csv`` source connector."""
    register(CsvConnector)


@contextmanager
def _sample() -> Iterator[dict[str, Any]]:
    yield {"connector": "csv", "config": {"directory": str(SAMPLE_DIRECTORY)}}


@hookimpl
def hub_register_sandboxes(register: Callable[..., None]) -> None:
    """``csv``: the sample exports shipped with this package, for ``hub demo``."""
    register("csv", _sample)


@hookimpl
def hub_register_mappings(register: Callable[[Path], None]) -> None:
    """The mapping of ``csv`` streams ``conversions`` and ``partners``."""
    register(MAPPING_FILE)
