"""The hub config file (``hub.yaml``): tenants, connections, schedules, secrets.

``load_config`` reads the file with YAML ``safe_load`` semantics, keeps the
line of every key, and validates it against the models below. Every problem
in the file is collected and raised at once as one :class:`ConfigError`, each
naming file, dotted location, line and fix, so a user fixes the whole file in
one pass instead of one error per run.

A connection's ``config:`` block belongs to its connector: it is checked by
the connector's own pydantic model in :func:`resolve_connector_config`, which
is also where ``${ENV}`` references are substituted and where every secret is
registered with :mod:`hub.redaction` so it is masked everywhere from then on.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import yaml
from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretBytes,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.errors import ConfigError, Problem
from hub.redaction import MASK, redact, register_secret, register_secrets_in

if TYPE_CHECKING:
    from hub.plugins import Registry

__all__ = [
    "ENV_VAR",
    "ConnectionConfig",
    "HubConfig",
    "QuarantinePolicy",
    "TenantConfig",
    "check_config",
    "find_config_path",
    "load_config",
    "resolve_connector_config",
    "validate_schedule",
]

#: The environment variable naming the config file when ``--config`` is not given.
ENV_VAR = "HUB_CONFIG"
DEFAULT_FILE_NAME = "hub.yaml"

Loc = tuple[str | int, ...]

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CRON_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_HINT = (
    'five fields "minute hour day-of-month month day-of-week" evaluated in UTC, '
    'e.g. "*/15 * * * *" (every 15 minutes) or "0 3 * * *" (03:00 UTC daily), '
    "or one of " + ", ".join(sorted(_CRON_ALIASES)) + "; quote it in YAML"
)
_MINIMAL_EXAMPLE = (
    "start from: `database: sqlite:///hub.db`, `tenants: {acme: {name: Acme}}`, "
    "`connections: {acme-shop: {connector: shopify, tenant: acme, config: {...}}}` "
    "(docs/config.md has a full example)"
)


# --------------------------------------------------------------------------- models


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise PydanticCustomError(
            "slug",
            f"{value!r} is not a valid name: use only letters, digits, '-' and '_', "
            "start with a letter or digit, at most 64 characters",
        )
    return value


#: A connection or tenant name: safe in file names, URLs, log lines and SQL values.
Slug = Annotated[str, AfterValidator(_check_slug)]


def validate_schedule(expression: str) -> str:
    """Return ``expression`` if it is a 5-field cron expression (or ``@hourly``...).

    Six-field (seconds) and seven-field (year) forms that croniter also accepts
    are refused: schedules are minute-grained and evaluated in UTC.
    """
    text = expression.strip()
    fields = text.split()
    if text.lower() in _CRON_ALIASES:
        return text.lower()
    if len(fields) != 5:
        raise PydanticCustomError(
            "cron",
            "not a cron expression: it has {count} field(s), a schedule needs exactly 5",
            {"count": len(fields)},
        )
    if not croniter.is_valid(text):
        raise PydanticCustomError("cron", "not a valid cron expression", {})
    return " ".join(fields)


class TenantConfig(BaseModel):
    """A participant of the ecosystem whose connections produce rows tagged with it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Display name, e.g. Nordlicht Outdoor.")


class QuarantinePolicy(BaseModel):
    """When quarantined (unmappable or invalid) records make a whole run fail.

    A run fails when more than ``max_ratio`` of its records were quarantined,
    but only once at least ``min_records`` were seen, so one bad record out of
    three does not fail a small run.
    """

    model_config = ConfigDict(extra="forbid")

    max_ratio: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Largest share of quarantined records (0..1) a run may have and pass.",
    )
    min_records: int = Field(
        default=100,
        ge=0,
        description="Records a run must have seen before max_ratio is enforced.",
    )

    def exceeded(self, quarantined: int, seen: int) -> bool:
        """True when ``quarantined`` out of ``seen`` records should fail the run."""
        if seen <= 0 or seen < self.min_records:
            return False
        return quarantined / seen > self.max_ratio


class ConnectionConfig(BaseModel):
    """One connection: a connector, the tenant it belongs to, its config and schedule."""

    model_config = ConfigDict(extra="forbid")

    connector: str = Field(
        min_length=1, description="The installed connector to use; `hub connectors` lists them."
    )
    tenant: Slug = Field(description="A tenant declared under `tenants:`.")
    schedule: str | None = Field(
        default=None, description="Cron expression (5 fields, UTC); none means manual runs only."
    )
    enabled: bool = Field(default=True, description="false keeps it out of the scheduler.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The connector's own settings; ${VAR} is taken from the environment.",
    )
    streams: list[str] | None = Field(
        default=None, description="Streams to sync; omitted means every stream."
    )
    mapping_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per stream, a partial stream mapping merged over the shipped one.",
    )
    quarantine: QuarantinePolicy | None = Field(
        default=None, description="Overrides the top-level quarantine policy, key by key."
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else validate_schedule(value)

    @field_validator("streams")
    @classmethod
    def _streams(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise PydanticCustomError(
                "empty_streams", "an empty list would sync nothing; remove the key to sync all", {}
            )
        repeated = sorted({s for s in value if value.count(s) > 1})
        if repeated:
            raise PydanticCustomError(
                "repeated_streams", "stream(s) listed twice: {names}", {"names": repeated}
            )
        return value


def _check_database_url(value: str) -> str:
    try:
        make_url(value)
    except (ArgumentError, ValueError):
        # The URL may hold a password: never echo it.
        raise PydanticCustomError("database_url", "not a database URL", {}) from None
    return value


class HubConfig(BaseModel):
    """The whole config file, plus the path it was read from."""

    model_config = ConfigDict(extra="forbid")

    database: Annotated[str, AfterValidator(_check_database_url)] = Field(
        default="sqlite:///hub.db",
        description="SQLAlchemy URL; a relative SQLite path is relative to the config file.",
    )
    tenants: dict[Slug, TenantConfig] = Field(default_factory=dict)
    mappings: list[Path] = Field(
        default_factory=list, description="Extra mapping files, relative to the config file."
    )
    quarantine: QuarantinePolicy = Field(default_factory=QuarantinePolicy)
    connections: dict[Slug, ConnectionConfig] = Field(default_factory=dict)
    #: The file this config came from (not a key of the file).
    path: Path = Field(default=Path(DEFAULT_FILE_NAME), exclude=True)

    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @field_validator("tenants", mode="before")
    @classmethod
    def _bare_tenants(cls, value: Any) -> Any:
        # `tenants: {acme: }` (no display name) is a tenant with defaults.
        if isinstance(value, Mapping):
            return {key: ({} if item is None else item) for key, item in value.items()}
        return value

    def line_of(self, location: Loc) -> int | None:
        """The file line of ``location`` (or of its nearest parent present in the file)."""
        return _line_of(self._lines, location)

    def connection(self, name: str) -> ConnectionConfig:
        """The connection called ``name``; a :class:`ConfigError` lists the known ones."""
        try:
            return self.connections[name]
        except KeyError:
            pass
        known = sorted(self.connections)
        hint = _did_you_mean(name, known)
        listing = ", ".join(known) if known else "(none: add one under `connections:`)"
        raise ConfigError(
            [
                Problem(
                    file=str(self.path),
                    location="connections",
                    message=f"no connection is called {name!r}",
                    line=_line_of(self._lines, ("connections",)),
                    hint=f"{hint}use one of: {listing}",
                )
            ]
        )

    def quarantine_policy(self, name: str) -> QuarantinePolicy:
        """The policy for connection ``name``: its own keys over the top-level defaults."""
        override = self.connection(name).quarantine
        if override is None:
            return self.quarantine
        changed = {key: getattr(override, key) for key in override.model_fields_set}
        return self.quarantine.model_copy(update=changed)

    def database_url(self) -> str:
        """The database URL, with a relative SQLite path made absolute.

        The path is relative to the config file's directory (not the working
        directory), so ``hub sync`` and the scheduler find the same database
        wherever they are started from. In-memory SQLite is kept as it is.
        """
        url = make_url(self.database)
        database = url.database
        if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return self.database
        if database.startswith("file:"):  # SQLite URI filenames are left to the user
            return self.database
        path = Path(database).expanduser()
        if not path.is_absolute():
            path = self.path.parent.absolute() / path
        return url.set(database=str(path)).render_as_string(hide_password=False)


# --------------------------------------------------------------------- finding files


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


# ------------------------------------------------------------------------ YAML parsing

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _compose(text: str, file: str) -> tuple[yaml.Node | None, Any, list[Problem]]:
    """Parse ``text`` with safe_load semantics, keeping the node tree for line numbers."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, []
        problems = list(_duplicate_keys(node, (), file))  # before merges rewrite the tree
        return node, loader.construct_document(node), problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        where = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            where += f"; {exc.context} that starts at line {exc.context_mark.line + 1}"
        where = f" ({where.lstrip('; ')})" if where else ""
        detail = exc.problem or exc.context or "cannot be parsed"
        if "\\t" in detail or "\t" in detail:
            hint = "indent with spaces; YAML does not allow tabs"
        elif "alias" in f"{exc.context} {detail}":
            hint = 'a value starting with * must be quoted, e.g. schedule: "*/15 * * * *"'
        else:
            hint = (
                "check the indentation, the colons after keys and that brackets and "
                "quotes are closed around the line shown"
            )
        problem = Problem(file, "", f"invalid YAML: {detail}{where}", line, hint)
        return None, None, [problem]
    except yaml.YAMLError as exc:  # reader errors: bad characters in the file
        return None, None, [Problem(file, "", f"invalid YAML: {exc}", None, "save as UTF-8")]
    finally:
        loader.dispose()


def _key_of(node: yaml.Node) -> Any:
    """The Python value of a mapping key node, as safe_load would build it."""
    try:  # a fresh constructor each time: constructors keep state and are not thread-safe
        key = yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        hash(key)
    except (yaml.YAMLError, TypeError):
        return None
    return key


def _children(node: yaml.Node) -> Iterator[tuple[str | int, yaml.Node, yaml.Node | None]]:
    """(key, value node, key node) for each entry of a mapping or sequence node."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = _key_of(key_node)
            if isinstance(key, str | int):
                yield key, value_node, key_node
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield index, item, None


def _duplicate_keys(node: yaml.Node, path: Loc, file: str) -> Iterator[Problem]:
    """YAML keeps only the last of two equal keys; that silently loses settings."""
    seen: dict[Any, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = _key_of(key_node)
            line = key_node.start_mark.line + 1
            if key is None:
                continue
            if key in seen:
                yield Problem(
                    file,
                    _format_loc((*path, key)),
                    f"key {key!r} appears twice (lines {seen[key]} and {line}); "
                    "YAML would silently keep only the last one",
                    line,
                    "remove or rename one of the two",
                )
            else:
                seen[key] = line
    for key, child, _ in _children(node):
        yield from _duplicate_keys(child, (*path, key), file)


def _line_map(node: yaml.Node) -> dict[Loc, int]:
    """Map every path in the document to the (1-based) line of its key or item."""
    lines: dict[Loc, int] = {(): node.start_mark.line + 1}

    def walk(current: yaml.Node, path: Loc) -> None:
        for key, child, key_node in _children(current):
            mark = (key_node or child).start_mark
            lines.setdefault((*path, key), mark.line + 1)
            walk(child, (*path, key))

    walk(node, ())
    return lines


def _line_of(lines: Mapping[Loc, int], location: Loc) -> int | None:
    path = tuple(location)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _format_loc(location: Sequence[str | int]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# ------------------------------------------------------------ validation -> problems


def _did_you_mean(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _field_named(model: type[BaseModel], key: str | int) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name, info
    return None


def _model_at(root: type[BaseModel], path: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping found at ``path``, if any."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            found = _field_named(current, part)
            if found is None:
                return None
            current = found[1].annotation
        elif origin in (dict, Mapping) and len(get_args(current)) == 2:
            current = get_args(current)[1]
        elif origin in (list, Sequence, tuple) and get_args(current):
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _clean_loc(loc: Sequence[str | int], data: Any) -> tuple[Loc, bool]:
    """Drop pydantic's type tags from ``loc``; also say whether it points at a key."""
    path: list[str | int] = []
    current = data
    is_key = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            is_key = True
            continue
        in_mapping = isinstance(current, Mapping) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_mapping or in_list:
            current = current[part]
        elif last and isinstance(part, str):
            current = None  # a missing key
        else:
            continue  # a union member or function tag, not a place in the file
        path.append(part)
    return tuple(path), is_key


_YAML_KIND = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true/false",
    "dict": "a mapping",
    "list": "a list",
    "NoneType": "an empty value",
    "date": "a date",
    "datetime": "a date and time",
}

_HINTS = {
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "int_type": "write a whole number, e.g. 100",
    "int_parsing": "write a whole number, e.g. 100",
    "int_from_float": "write a whole number, e.g. 100",
    "float_type": "write a number, e.g. 0.1",
    "float_parsing": "write a number, e.g. 0.1",
    "string_type": "write text; quote it if YAML reads it as a number, date or true/false",
    "list_type": "write a list, e.g. [orders, products]",
    "dict_type": "write a mapping of `key: value` lines, indented under this key",
    "model_type": "write a mapping of `key: value` lines, indented under this key",
    "model_attributes_type": "write a mapping of `key: value` lines, indented under this key",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "slug": "rename it, e.g. nordlicht-shop",
    "cron": _CRON_HINT,
    "empty_streams": "remove `streams:` to sync every stream, or list at least one",
    "repeated_streams": "list each stream once",
    "database_url": "e.g. sqlite:///hub.db or postgresql+psycopg://user@localhost/hub",
    "url_parsing": "write a full URL, e.g. https://example.com",
    "url_scheme": "write a full URL, e.g. https://example.com",
}


def _is_secret_annotation(annotation: Any) -> bool:
    annotation = _unwrap(annotation)
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret_annotation(arg) for arg in get_args(annotation))


def _is_secret_path(model: type[BaseModel], path: Loc) -> bool:
    """Whether ``path`` (inside ``model``) ends at a SecretStr/SecretBytes field."""
    if not path:
        return False
    parent = _model_at(model, path[:-1])
    if parent is None:
        return False
    found = _field_named(parent, path[-1])
    return found is not None and _is_secret_annotation(found[1].annotation)


def _problems_from_validation(
    exc: ValidationError,
    *,
    file: str,
    data: Any,
    model: type[BaseModel],
    lines: Mapping[Loc, int],
    prefix: Loc = (),
    hide_inputs: Sequence[Loc] = (),
    skip: Sequence[Loc] = (),
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, located in the file, never echoing secrets."""
    problems: list[Problem] = []
    for error in exc.errors():
        path, is_key = _clean_loc(error["loc"], data)
        if any(path[: len(skipped)] == skipped for skipped in skip):
            continue
        location = (*prefix, *path)
        kind = error["type"]
        if kind == "extra_forbidden" and path:
            key = str(path[-1])
            parent = _model_at(model, path[:-1])
            allowed = (
                [info.alias or name for name, info in parent.model_fields.items()]
                if parent is not None
                else []
            )
            if model is HubConfig and not path[:-1]:
                allowed = [name for name in allowed if name != "path"]
            message = f"unknown key {key!r}"
            hint = _did_you_mean(key, allowed) + (
                f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
            )
        elif kind == "missing" and path:
            key = str(path[-1])
            parent_text = _format_loc(location[:-1]) or "the top level"
            message = f"required key {key!r} is missing"
            parent = _model_at(model, path[:-1])
            found = _field_named(parent, key) if parent is not None else None
            description = found[1].description if found is not None else None
            hint = f"add `{key}:` under {parent_text}"
            if description:
                hint += f" ({description[:1].lower()}{description[1:].rstrip('.')})"
        else:
            message = error["msg"]
            secret = _is_secret_path(model, path)
            from_env = any(path[: len(hidden)] == hidden for hidden in hide_inputs)
            value = error.get("input")
            if secret and (is_key or kind in ("value_error", "assertion_error")):
                # A validator's own message may quote the secret in any form: drop it.
                message = "is not valid (the value is a secret and is not shown)"
            elif (secret or from_env) and isinstance(value, str) and value:
                message = message.replace(value, MASK)
            if is_key:
                message = f"key: {message}"
            if kind.endswith(("_type", "_parsing")):
                found_kind = _YAML_KIND.get(type(value).__name__, type(value).__name__)
                message = f"{message} (found {found_kind})"
            hint = _HINTS.get(kind, "see docs/config.md for the allowed values")
        problems.append(
            Problem(
                file=file,
                location=_format_loc(location),
                message=redact(message),
                line=_line_of(lines, location),
                hint=redact(hint),
            )
        )
    return problems


# ----------------------------------------------------------------------- loading


def _tenant_problems(
    file: str,
    tenants: Sequence[str],
    connection_tenants: Mapping[str, Any],
    lines: Mapping[Loc, int],
) -> list[Problem]:
    problems = []
    for name, tenant in connection_tenants.items():
        if not isinstance(tenant, str) or tenant in tenants:
            continue
        location = ("connections", name, "tenant")
        declared = ", ".join(sorted(tenants)) if tenants else "(none declared)"
        problems.append(
            Problem(
                file,
                _format_loc(location),
                f"tenant {tenant!r} is not declared under `tenants:`",
                _line_of(lines, location),
                f"{_did_you_mean(tenant, tenants)}declared tenants: {declared}; "
                f"to add it write `tenants: {{{tenant}: {{name: ...}}}}`",
            )
        )
    return problems


def load_config(path: Path) -> HubConfig:
    """Read and validate the config file; a :class:`ConfigError` lists every problem."""
    path = Path(path).expanduser().absolute()
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            [Problem(file, "", "the file is not UTF-8 text", None, "save it as UTF-8")]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [
                Problem(
                    file,
                    "",
                    f"cannot read the config file: {exc.strerror or exc}",
                    None,
                    "check the path and the file's permissions",
                )
            ]
        ) from None

    node, data, problems = _compose(text, file)
    if node is None and not problems:
        raise ConfigError([Problem(file, "", "the config file is empty", 1, _MINIMAL_EXAMPLE)])
    if node is None:
        raise ConfigError(problems)
    lines = _line_map(node)
    if data is None:  # a bare `---` or `~`
        raise ConfigError([Problem(file, "", "the config file is empty", 1, _MINIMAL_EXAMPLE)])
    if not isinstance(data, dict):
        found = _YAML_KIND.get(type(data).__name__, type(data).__name__)
        problems.append(
            Problem(
                file,
                "",
                f"the top level must be a mapping of keys (database, tenants, connections ...), "
                f"found {found}",
                node.start_mark.line + 1,
                _MINIMAL_EXAMPLE,
            )
        )
        raise ConfigError(problems)

    data = dict(data)
    if "path" in data:  # HubConfig.path records the file; it is not a key of the file
        problems.append(
            Problem(
                file,
                "path",
                "unknown key 'path'",
                _line_of(lines, ("path",)),
                "remove it; allowed keys here: "
                + ", ".join(name for name in HubConfig.model_fields if name != "path"),
            )
        )
        del data["path"]

    connections = data.get("connections")
    tenants = data.get("tenants")
    if isinstance(connections, Mapping):
        problems.extend(
            _tenant_problems(
                file,
                [str(t) for t in tenants] if isinstance(tenants, Mapping) else [],
                {
                    str(name): conn.get("tenant")
                    for name, conn in connections.items()
                    if isinstance(conn, Mapping)
                },
                lines,
            )
        )

    hub: HubConfig | None = None
    try:
        hub = HubConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        problems.extend(
            _problems_from_validation(exc, file=file, data=data, model=HubConfig, lines=lines)
        )
    if problems or hub is None:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.location)))

    hub.mappings = [
        p if p.is_absolute() else path.parent / p for p in (m.expanduser() for m in hub.mappings)
    ]
    hub._lines = lines
    password = make_url(hub.database).password
    if password:
        register_secret(str(password))
    return hub


# --------------------------------------------------------- env substitution, secrets

_REFERENCE = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_VARIABLE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


def _substitute_text(text: str) -> tuple[str, list[str], list[str], list[str]]:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in ``text``; ``$$`` is a literal ``$``.

    Returns the new text, the environment values used, the missing variable
    names and the malformed references.
    """
    used: list[str] = []
    missing: list[str] = []
    malformed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":  # noqa: S105 - an escape, not a password
            return "$"
        body = match.group(1)
        variable = None if body is None else _VARIABLE.fullmatch(body)
        if variable is None:
            malformed.append(token if body is not None else "${ without a closing }")
            return token
        value = os.environ.get(variable["name"])
        default = variable["default"]
        if default is not None and not value:
            return default
        if value is None:
            missing.append(variable["name"])
            return token
        used.append(value)
        return value

    return _REFERENCE.sub(replace, text), used, missing, malformed


@dataclass
class _Substitution:
    """Where a config block's ``${ENV}`` expansion stands: what was used, what failed."""

    file: str
    lines: Mapping[Loc, int]
    prefix: Loc
    problems: list[Problem] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    failed: list[Loc] = field(default_factory=list)
    substituted: list[Loc] = field(default_factory=list)

    def problem(self, path: Loc, message: str, hint: str) -> None:
        location = (*self.prefix, *path)
        self.problems.append(
            Problem(self.file, _format_loc(location), message, _line_of(self.lines, location), hint)
        )


def _substitute(value: Any, path: Loc, state: _Substitution) -> Any:
    """Recursively substitute environment references in every string of ``value``."""
    if isinstance(value, Mapping):
        return {k: _substitute(v, (*path, k), state) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), state) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    text, values, missing, malformed = _substitute_text(value)
    state.used.extend(values)
    if values:
        state.substituted.append(path)
    if missing or malformed:
        state.failed.append(path)
    for name in missing:
        state.problem(
            path,
            f"environment variable {name} is not set",
            f"set it before starting the hub (export {name}=...), or give a default "
            f"with ${{{name}:-default}}",
        )
    for token in malformed:
        state.problem(
            path,
            f"{token!r} is not a valid environment reference",
            "write ${NAME} or ${NAME:-default} (letters, digits and _), or $$ for a literal $",
        )
    return text


def _secret_values(model: type[BaseModel], data: Any) -> Iterator[Any]:
    """The raw values in ``data`` that ``model`` declares as secret (before validating)."""
    if not isinstance(data, Mapping):
        return
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in data:
            continue
        if _is_secret_annotation(info.annotation):
            yield data[key]
        nested = _unwrap(info.annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            yield from _secret_values(nested, data[key])


def resolve_connector_config(hub: HubConfig, name: str, model: type[BaseModel]) -> BaseModel:
    """The connection's ``config:`` block with ``${ENV}`` expanded, validated by ``model``.

    Every substituted environment value and every secret field is registered
    with :func:`hub.redaction.register_secret` first, so no error, log line or
    run record shows it. Problems name the field, its line and the fix.
    """
    connection = hub.connection(name)
    state = _Substitution(str(hub.path), hub._lines, ("connections", name, "config"))
    data = _substitute(connection.config, (), state)
    for value in state.used:
        register_secret(value)
    for value in _secret_values(model, data):
        if isinstance(value, str):
            register_secret(value)
    problems = state.problems
    try:
        resolved = model.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            _problems_from_validation(
                exc,
                file=state.file,
                data=data,
                model=model,
                lines=state.lines,
                prefix=state.prefix,
                hide_inputs=state.substituted,
                skip=state.failed,  # a missing variable's field: its error would only repeat it
            )
        )
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    register_secrets_in(resolved)
    return resolved


# ----------------------------------------------------------------------- deep check


def check_config(hub: HubConfig, registry: Registry) -> list[Problem]:
    """Everything ``hub validate`` checks beyond the file's shape, as a list of problems.

    Connectors installed, tenants declared, cron expressions valid, streams and
    mapping-override keys known to the connector, mapping files present, and
    each ``config:`` block valid for its connector. A missing environment
    variable is reported as a problem: a run would fail on it too.
    """
    file = str(hub.path)
    lines = hub._lines
    problems = _tenant_problems(
        file, list(hub.tenants), {n: c.tenant for n, c in hub.connections.items()}, lines
    )
    installed = sorted(registry.connectors)

    for index, mapping_file in enumerate(hub.mappings):
        if not mapping_file.is_file():
            location = ("mappings", index)
            problems.append(
                Problem(
                    file,
                    _format_loc(location),
                    f"mapping file {str(mapping_file)!r} does not exist",
                    _line_of(lines, location),
                    "fix the path; relative paths are relative to the config file's directory",
                )
            )

    for name, connection in hub.connections.items():
        base: Loc = ("connections", name)

        def problem(field: Loc, message: str, hint: str, base: Loc = base) -> Problem:
            return Problem(
                file, _format_loc((*base, *field)), message, _line_of(lines, (*base, *field)), hint
            )

        if connection.schedule is not None:
            try:
                validate_schedule(connection.schedule)
            except PydanticCustomError as exc:
                problems.append(problem(("schedule",), str(exc), _CRON_HINT))

        if connection.connector not in registry.connectors:
            listing = ", ".join(installed) if installed else "(none installed)"
            problems.append(
                problem(
                    ("connector",),
                    f"no installed connector is called {connection.connector!r}",
                    f"{_did_you_mean(connection.connector, installed)}installed: {listing}; "
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
                            f"{_did_you_mean(stream, known)}its streams: {', '.join(known)}",
                        )
                    )
            for stream in connection.mapping_overrides:
                if stream not in known:
                    problems.append(
                        problem(
                            ("mapping_overrides", stream),
                            f"mapping override for unknown stream {stream!r}",
                            f"{_did_you_mean(stream, known)}streams of "
                            f"{connection.connector!r}: {', '.join(known)}",
                        )
                    )
        try:
            resolve_connector_config(hub, name, connector.spec())
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems
