"""The hooks a plugin may implement. Each takes a ``register`` callback.

A plugin is a module registered under the ``partner_hub`` entry-point group;
it marks its functions with ``@hookimpl`` and calls ``register`` once per
thing it provides::

    from hub.hookspecs import hookimpl

    @hookimpl
    def hub_register_connectors(register):
        register(MyConnector)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


@hookspec
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    """Register source connector classes (subclasses of ``hub.connector.Connector``)."""


@hookspec
def hub_register_destinations(register: Callable[[type[Any]], None]) -> None:
    """Register destination classes (subclasses of ``hub.connector.Destination``)."""


@hookspec
def hub_register_mappings(register: Callable[[Path], None]) -> None:
    """Register mapping files (YAML) that normalize a connector's streams."""


@hookspec
def hub_register_sandboxes(
    register: Callable[[str, Callable[[], AbstractContextManager[Mapping[str, Any]]]], None],
) -> None:
    """Register local sandboxes for ``hub demo``: ``register(name, start)``.

    ``start()`` is a context manager that brings up a fake of the source on
    127.0.0.1 (or points at sample files) and yields the connection block for
    ``hub.yaml`` (``connector``, ``config``, optionally ``streams``).
    """


@hookspec
def hub_register_converters(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register named converters that mapping files can use (``convert: name``)."""
