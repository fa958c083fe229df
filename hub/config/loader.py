"""Finding ``hub.yaml`` and reading it into a validated :class:`HubConfig`.

The file is parsed by :mod:`hub.yamlfile` (safe loading, duplicate keys and
YAML bombs refused, the line of every key kept) and validated against the
models. Every problem in the file is collected and raised at once as one
:class:`ConfigError`, each naming file, dotted location, line and fix, so a
user fixes the whole file in one pass instead of one error per run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from hub.config.checks import tenant_problems
from hub.config.models import DEFAULT_FILE_NAME, HubConfig
from hub.config.problems import problems_from_validation, yaml_kind
from hub.errors import ConfigError, Problem
from hub.redaction import register_secret
from hub.yamlfile import line_at, load_yaml_file, origin_of

#: The environment variable naming the config file when ``--config`` is not given.
ENV_VAR = "HUB_CONFIG"

_MINIMAL_EXAMPLE = (
    "start from: `database: sqlite:///hub.db`, `tenants: {acme: {name: Acme}}`, "
    "`connections: {acme-shop: {connector: shopify, tenant: acme, config: {...}}}` "
    "(docs/config.md has a full example)"
)


def find_config_path(explicit: str | Path | None = None) -> Path:
    """The config file to use: ``explicit`` (--config), else ``$HUB_CONFIG``, else ./hub.yaml."""
    if explicit is not None and str(explicit) != "":
        candidate, origin = Path(explicit), "given with --config"
    elif os.environ.get(ENV_VAR):
        candidate, origin = Path(os.environ[ENV_VAR]), f"named by ${ENV_VAR}"
    else:
        candidate, origin = Path.cwd() / DEFAULT_FILE_NAME, "the default"
    candidate = candidate.expanduser().absolute()
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        message = f"the config file {origin} is a directory"
        hint = f"point to the file itself, e.g. {candidate / DEFAULT_FILE_NAME}"
    else:
        message = f"the config file {origin} does not exist"
        hint = (
            f"create {DEFAULT_FILE_NAME} in the current directory, pass --config PATH, "
            f"or set {ENV_VAR}=PATH (docs/config.md shows an example)"
        )
    raise ConfigError([Problem(file=str(candidate), location="", message=message, hint=hint)])


def load_config(path: Path) -> HubConfig:
    """Read and validate the config file; a :class:`ConfigError` lists every problem."""
    path = Path(path).expanduser().absolute()
    file = str(path)
    document, problems = load_yaml_file(path, what="the config file")
    if document is None:  # unreadable, not YAML, refused, or empty (also a bare `---` or `~`)
        raise ConfigError(
            problems or [Problem(file, "", "the config file is empty", 1, _MINIMAL_EXAMPLE)]
        )
    if not isinstance(document, dict):
        origin = origin_of(document)
        problems.append(
            Problem(
                file,
                "",
                f"the top level must be a mapping of keys (database, tenants, connections ...), "
                f"found {yaml_kind(document)}",
                1 if origin is None else origin.line,
                _MINIMAL_EXAMPLE,
            )
        )
        raise ConfigError(problems)

    data = dict(document)
    if "path" in data:  # HubConfig.path records the file; it is not a key of the file
        problems.append(
            Problem(
                file,
                "path",
                "unknown key 'path'",
                line_at(document, ("path",)),
                "remove it; allowed keys here: "
                + ", ".join(name for name in HubConfig.model_fields if name != "path"),
            )
        )
        del data["path"]

    connections = data.get("connections")
    tenants = data.get("tenants")
    if isinstance(connections, Mapping):
        problems.extend(
            tenant_problems(
                file,
                [str(t) for t in tenants] if isinstance(tenants, Mapping) else [],
                {
                    str(name): conn.get("tenant")
                    for name, conn in connections.items()
                    if isinstance(conn, Mapping)
                },
                document,
            )
        )

    hub: HubConfig | None = None
    try:
        hub = HubConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        problems.extend(
            problems_from_validation(
                exc,
                file=file,
                data=data,
                model=HubConfig,
                document=document,
                not_in_file=("path",),
            )
        )
    if problems or hub is None:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.location)))

    hub.mappings = [
        p if p.is_absolute() else path.parent / p for p in (m.expanduser() for m in hub.mappings)
    ]
    hub._document = document
    password = make_url(hub.database).password
    if password:
        register_secret(str(password))
    return hub
