"""The plugin host: loads entry points, runs the register hooks, keeps what they registered.

Built-in connectors are registered through the project's own entry points,
exactly as a third-party package would be. A plugin that fails to import is
reported with a warning naming it, and the others still load.

Environment switches:

- ``HUB_PLUGINS=a,b``: load only these entry points (empty: none).
- ``HUB_DISABLE_PLUGINS=a,b``: skip these entry points.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from hub import hookspecs
from hub.connector import Connector, Destination
from hub.errors import PluginError, UnknownConnectorError

ENTRY_POINT_GROUP = "partner_hub"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    """Something a plugin registered, with where it came from."""

    name: str
    obj: Any
    plugin: str
    package: str
    version: str


@dataclass
class Registry:
    """Everything the loaded plugins registered."""

    connectors: dict[str, Registered] = field(default_factory=dict)
    destinations: dict[str, Registered] = field(default_factory=dict)
    mapping_files: list[Path] = field(default_factory=list)
    converters: dict[str, Registered] = field(default_factory=dict)
    sandboxes: dict[str, Registered] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def connector(self, name: str) -> type[Connector]:
        """The connector class called ``name``, or an error listing the installed ones."""
        try:
            return self.connectors[name].obj
        except KeyError:
            raise UnknownConnectorError(
                f"no installed connector is called {name!r}",
                hint=f"use one of: {', '.join(sorted(self.connectors)) or '(none installed)'}; "
                "`hub connectors` lists them, and a third-party connector is installed "
                "with `pip install <its package>`",
            ) from None

    def destination(self, name: str) -> type[Destination]:
        try:
            return self.destinations[name].obj
        except KeyError:
            raise UnknownConnectorError(
                f"no installed destination is called {name!r}",
                hint=f"use one of: {', '.join(sorted(self.destinations)) or '(none installed)'}",
            ) from None


def shipped_mapping(file_name: str) -> Path:
    """A mapping file shipped in the ``mappings`` package data of this distribution.

    ``mappings`` is a namespace package; ``importlib.resources.files`` cannot
    open one on Python 3.11 when an editable install adds a path hook to its
    ``__path__``, so the package's directories are searched directly.
    """
    import mappings

    for entry in list(mappings.__path__):
        candidate = Path(entry) / file_name
        if candidate.is_file():
            return candidate
    raise PluginError(
        f"the mapping file {file_name} is missing from the `mappings` package",
        hint="reinstall partner-hub (the file is package data of the distribution)",
    )


_manager: pluggy.PluginManager | None = None
_registry: Registry | None = None
# plugin name -> (distribution name, version)
_origins: dict[str, tuple[str, str]] = {}


def _switch(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _load_entry_points(manager: pluggy.PluginManager) -> dict[str, str]:
    only, disabled = _switch("HUB_PLUGINS"), _switch("HUB_DISABLE_PLUGINS") or set()
    failed: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (only is not None and ep.name not in only) or ep.name in disabled:
            continue
        if manager.get_plugin(ep.name) is not None:
            continue
        dist = ep.dist.name if ep.dist else "unknown"
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not take the hub down
            reason = f"{type(exc).__name__}: {exc}"
            failed[ep.name] = reason
            warnings.warn(
                f"plugin {ep.name!r} from package {dist!r} failed to import and was skipped "
                f"({reason})",
                stacklevel=2,
            )
            continue
        manager.register(module, name=ep.name)
        _origins[ep.name] = (dist, ep.dist.version if ep.dist else "")
    return failed


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every entry-point plugin loaded."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager("hub")
        manager.add_hookspecs(hookspecs)
        _manager = manager
        _failed_at_load.update(_load_entry_points(manager))
        manager.check_pending()
    return _manager


_failed_at_load: dict[str, str] = {}


def register_plugin(module: ModuleType | object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, embedding applications)."""
    manager = get_plugin_manager()
    manager.register(module, name=name)
    manager.check_pending()
    reset_registry()


def unregister_plugin(name: str) -> None:
    manager = get_plugin_manager()
    plugin = manager.get_plugin(name)
    if plugin is not None:
        manager.unregister(plugin)
    reset_registry()


def reset_registry() -> None:
    """Forget what plugins registered; the next :func:`get_registry` asks them again."""
    global _registry
    _registry = None


def _collect(
    manager: pluggy.PluginManager, hook_name: str, add: Callable[[Any, str], None]
) -> None:
    hook = getattr(manager.hook, hook_name)
    for impl in hook.get_hookimpls():
        plugin_name = manager.get_name(impl.plugin) or repr(impl.plugin)

        def register(*args: Any, _plugin: str = plugin_name) -> None:
            add(args, _plugin)

        impl.function(register=register)


def get_registry() -> Registry:
    """What every loaded plugin registered (computed once, then cached)."""
    global _registry
    if _registry is not None:
        return _registry
    manager = get_plugin_manager()
    registry = Registry(failed=dict(_failed_at_load))

    def origin(plugin: str) -> tuple[str, str]:
        return _origins.get(plugin, ("(registered at run time)", ""))

    def add_class(
        target: dict[str, Registered], base: type, kind: str
    ) -> Callable[[Any, str], None]:
        def add(args: Any, plugin: str) -> None:
            (cls,) = args
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"plugin {plugin!r} registered {cls!r}, which is not a {kind}")
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {plugin!r}: {kind} {cls.__name__} has no `name`")
            if name in target and target[name].obj is not cls:
                raise PluginError(
                    f"{kind} name {name!r} is registered twice: by {target[name].plugin!r} "
                    f"and by {plugin!r}",
                    hint="uninstall one of the two packages, or disable one with "
                    "HUB_DISABLE_PLUGINS",
                )
            target[name] = Registered(name, cls, plugin, *origin(plugin))

        return add

    def add_mapping(args: Any, plugin: str) -> None:
        (path,) = args
        registry.mapping_files.append(Path(path))

    def add_converter(args: Any, plugin: str) -> None:
        name, function = args
        if name in registry.converters and registry.converters[name].obj is not function:
            raise PluginError(
                f"converter {name!r} is registered twice: by "
                f"{registry.converters[name].plugin!r} and by {plugin!r}"
            )
        registry.converters[name] = Registered(name, function, plugin, *origin(plugin))

    _collect(
        manager, "hub_register_connectors", add_class(registry.connectors, Connector, "connector")
    )
    _collect(
        manager,
        "hub_register_destinations",
        add_class(registry.destinations, Destination, "destination"),
    )
    _collect(manager, "hub_register_mappings", add_mapping)
    _collect(manager, "hub_register_converters", add_converter)

    def add_sandbox(args: Any, plugin: str) -> None:
        name, start = args
        if name in registry.sandboxes and registry.sandboxes[name].obj is not start:
            raise PluginError(
                f"sandbox {name!r} is registered twice: by {registry.sandboxes[name].plugin!r} "
                f"and by {plugin!r}"
            )
        registry.sandboxes[name] = Registered(name, start, plugin, *origin(plugin))

    _collect(manager, "hub_register_sandboxes", add_sandbox)
    _registry = registry
    return registry
