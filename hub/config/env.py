"""A connection's ``config:`` block: ``${ENV}`` substituted, secrets registered, validated.

Secrets reach the hub only through ``${VAR}`` references (or ``SecretStr``
fields), and only here: every substituted environment value and every
secret field is registered with :mod:`hub.redaction` before the connector's
model sees the data, so no error, log line or run record can show it.
``${VAR:-default}`` gives a default; ``$$`` is a literal ``$``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.config.models import HubConfig
from hub.config.problems import Loc, is_secret_annotation, problems_from_validation, unwrap
from hub.errors import ConfigError, Problem
from hub.redaction import register_secret, register_secrets_in
from hub.yamlfile import format_location, line_at

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
    document: Any  # the file parsed by hub.yamlfile, for line numbers
    prefix: Loc
    problems: list[Problem] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    failed: list[Loc] = field(default_factory=list)
    substituted: list[Loc] = field(default_factory=list)

    def problem(self, path: Loc, message: str, hint: str) -> None:
        location = (*self.prefix, *path)
        self.problems.append(
            Problem(
                self.file,
                format_location(location),
                message,
                line_at(self.document, location),
                hint,
            )
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
        if is_secret_annotation(info.annotation):
            yield data[key]
        nested = unwrap(info.annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            yield from _secret_values(nested, data[key])


def resolve_connector_config(
    hub: HubConfig, name: str, model: type[BaseModel], *, destination: str | None = None
) -> BaseModel:
    """The connection's ``config:`` block with ``${ENV}`` expanded, validated by ``model``.

    With ``destination``, the connection's ``push.<destination>:`` block (if
    any) is laid over ``config:`` key by key first: settings only that
    destination needs. Every substituted environment value and every secret
    field is registered with :func:`hub.redaction.register_secret` first, so
    no error, log line or run record shows it. Problems name the field, its
    line (in whichever block set it) and the fix.
    """
    connection = hub.connection(name)
    base = ("connections", name, "config")
    state = _Substitution(str(hub.path), hub._document, base)
    data = _substitute(connection.config, (), state)
    layers = [(state, data)]
    if destination is not None and destination in connection.push:
        extra = _Substitution(
            str(hub.path), hub._document, ("connections", name, "push", destination)
        )
        layers.append((extra, _substitute(connection.push[destination], (), extra)))
        data = {**data, **layers[-1][1]}
    problems = [problem for layer, _ in layers for problem in layer.problems]
    for layer, _ in layers:
        for value in layer.used:
            register_secret(value)
    for value in _secret_values(model, data):
        if isinstance(value, str):
            register_secret(value)
    try:
        resolved = model.model_validate(data)
    except ValidationError as exc:
        for n, (layer, own) in enumerate(layers):
            # Each error is reported once, at the block that set its field (else at config:).
            later = {key for _, block in layers[n + 1 :] for key in block}
            others = [(key,) for key in data if key not in own or key in later]
            if n:  # fields set nowhere (missing ones) belong to config:
                others += [(key,) for key in model.model_fields if key not in own]
            problems.extend(
                problems_from_validation(
                    exc,
                    file=layer.file,
                    data=data,
                    model=model,
                    document=layer.document,
                    prefix=layer.prefix,
                    hide_inputs=[*layers[0][0].substituted, *layer.substituted],
                    # a missing variable's field: its error would only repeat it
                    skip=[*layer.failed, *others],
                )
            )
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    register_secrets_in(resolved)
    return resolved
