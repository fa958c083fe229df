"""``hub demo``: start every registered sandbox and sync it, with no credentials at all.

Each plugin may register a sandbox (``hub_register_sandboxes``): a fake of its
source on 127.0.0.1, or sample files. The demo starts them all, writes a
``hub.yaml`` naming one connection per sandbox into its own folder, and syncs
them into the SQLite database beside it, so a newcomer sees the whole
pipeline — pull, normalize, store, quarantine — in one command.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from hub.errors import HubError
from hub.plugins import Registry

DEMO_TENANT = "demo"


@contextmanager
def running_sandboxes(
    registry: Registry, names: list[str] | None = None
) -> Iterator[dict[str, Mapping[str, Any]]]:
    """Start the sandboxes (all, or ``names``); yields connection name -> connection block."""
    chosen = names or sorted(registry.sandboxes)
    unknown = [name for name in chosen if name not in registry.sandboxes]
    if unknown:
        raise HubError(
            f"no sandbox called {', '.join(map(repr, unknown))}",
            hint=f"installed sandboxes: {', '.join(sorted(registry.sandboxes)) or '(none)'}",
        )
    with ExitStack() as stack:
        yield {
            f"demo-{name}": stack.enter_context(registry.sandboxes[name].obj()) for name in chosen
        }


def write_demo_config(directory: Path, connections: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``<directory>/hub.yaml`` for the running sandboxes; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "database": "sqlite:///hub.db",
        "tenants": {DEMO_TENANT: {"name": "Demo merchant"}},
        "connections": {
            name: {"tenant": DEMO_TENANT, **dict(block)} for name, block in connections.items()
        },
    }
    path = directory / "hub.yaml"
    header = (
        "# Written by `hub demo` for the sandboxes it started; their ports change on every\n"
        "# run, so `hub sync` with this file works only while `hub demo --serve` runs.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path
