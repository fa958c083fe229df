"""Checks across the file that single fields cannot make: tenants declared, and ``hub validate``.

:func:`tenant_problems` runs on every load. :func:`check_config` is what
``hub validate`` adds once the plugins are loaded: connectors installed,
streams and mapping-override keys known to them, mapping files present, and
each ``config:`` block valid for its connector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticCustomError

from hub.config.env import resolve_connector_config
from hub.config.models import HubConfig
from hub.config.problems import Loc, did_you_mean
from hub.config.schedule import CRON_HINT, validate_schedule
from hub.errors import ConfigError, Problem
from hub.yamlfile import format_location, line_at

if TYPE_CHECKING:
    from hub.plugins import Registry


def tenant_problems(
    file: str,
    tenants: Sequence[str],
    connection_tenants: Mapping[str, Any],
    document: Any,
) -> list[Problem]:
    """A problem for each connection whose ``tenant:`` is not declared under ``tenants:``.

    ``connection_tenants`` maps connection names to what their ``tenant:``
    says; ``document`` is the parsed file, for line numbers.
    """
    problems = []
    for name, tenant in connection_tenants.items():
        if not isinstance(tenant, str) or tenant in tenants:
            continue
        location = ("connections", name, "tenant")
        declared = ", ".join(sorted(tenants)) if tenants else "(none declared)"
        problems.append(
            Problem(
                file,
                format_location(location),
                f"tenant {tenant!r} is not declared under `tenants:`",
                line_at(document, location),
                f"{did_you_mean(tenant, tenants)}declared tenants: {declared}; "
                f"to add it write `tenants: {{{tenant}: {{name: ...}}}}`",
            )
        )
    return problems


def check_config(hub: HubConfig, registry: Registry) -> list[Problem]:
    """Everything ``hub validate`` checks beyond the file's shape, as a list of problems.

    Connectors installed, tenants declared, cron expressions valid, streams and
    mapping-override keys known to the connector, mapping files present, and
    each ``config:`` block valid for its connector. A missing environment
    variable is reported as a problem: a run would fail on it too.
    """
    file = str(hub.path)
    document = hub._document
    problems = tenant_problems(
        file, list(hub.tenants), {n: c.tenant for n, c in hub.connections.items()}, document
    )
    installed = sorted(registry.connectors)

    for index, mapping_file in enumerate(hub.mappings):
        if not mapping_file.is_file():
            location = ("mappings", index)
            problems.append(
                Problem(
                    file,
                    format_location(location),
                    f"mapping file {str(mapping_file)!r} does not exist",
                    line_at(document, location),
                    "fix the path; relative paths are relative to the config file's directory",
                )
            )

    for name, connection in hub.connections.items():
        base: Loc = ("connections", name)

        def problem(field: Loc, message: str, hint: str, base: Loc = base) -> Problem:
            location = (*base, *field)
            return Problem(
                file, format_location(location), message, line_at(document, location), hint
            )

        if connection.schedule is not None:
            try:
                validate_schedule(connection.schedule)
            except PydanticCustomError as exc:
                problems.append(problem(("schedule",), str(exc), CRON_HINT))

        if connection.connector not in registry.connectors:
            listing = ", ".join(installed) if installed else "(none installed)"
            problems.append(
                problem(
                    ("connector",),
                    f"no installed connector is called {connection.connector!r}",
                    f"{did_you_mean(connection.connector, installed)}installed: {listing}; "
                    "a third-party connector is installed with `pip install <its package>`",
                )
            )
            continue
        connector = registry.connectors[connection.connector].obj
        known = [stream.name for stream in connector.streams()]
        if known:  # a connector that only discovers streams at run time cannot be checked here
            for index, stream in enumerate(connection.streams or []):
                if stream not in known:
                    problems.append(
                        problem(
                            ("streams", index),
                            f"connector {connection.connector!r} has no stream {stream!r}",
                            f"{did_you_mean(stream, known)}its streams: {', '.join(known)}",
                        )
                    )
            for stream in connection.mapping_overrides:
                if stream not in known:
                    problems.append(
                        problem(
                            ("mapping_overrides", stream),
                            f"mapping override for unknown stream {stream!r}",
                            f"{did_you_mean(stream, known)}streams of "
                            f"{connection.connector!r}: {', '.join(known)}",
                        )
                    )
        try:
            resolve_connector_config(hub, name, connector.spec())
        except ConfigError as exc:
            problems.extend(exc.problems)
        problems.extend(_push_problems(hub, name, registry, problem))
    # a destination's model usually extends its connector's: its config: errors come twice
    return list({str(p): p for p in problems}.values())


def _push_problems(
    hub: HubConfig, name: str, registry: Registry, problem: Callable[[Loc, str, str], Problem]
) -> list[Problem]:
    """The connection's ``push:`` blocks: each names an installed destination and fits it."""
    problems: list[Problem] = []
    destinations = sorted(registry.destinations)
    for destination in hub.connections[name].push:
        if destination not in registry.destinations:
            listing = ", ".join(destinations) if destinations else "(none installed)"
            problems.append(
                problem(
                    ("push", destination),
                    f"no installed destination is called {destination!r}",
                    f"{did_you_mean(destination, destinations)}installed: {listing}",
                )
            )
            continue
        model = registry.destinations[destination].obj.spec()
        try:
            resolve_connector_config(hub, name, model, destination=destination)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems
