"""Pydantic validation errors as :class:`~hub.errors.Problem`: file, location, line, fix.

Every error of ``hub.yaml`` or of a connection's ``config:`` block is turned
into a problem that names the dotted location and its line, says what was
found instead of what was expected, and suggests the fix ("did you mean",
the allowed keys, a valid example). Messages never quote a secret: the input
of a ``SecretStr`` field, or a value that came from the environment, is
masked or left out, and every text passes through :func:`hub.redaction.redact`.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from hub.config.schedule import CRON_HINT
from hub.errors import Problem
from hub.redaction import MASK, redact
from hub.yamlfile import format_location, line_at

#: A place in the file: keys and list indexes from the top, e.g. ("connections", "shop").
Loc = tuple[str | int, ...]


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def unwrap(annotation: Any) -> Any:
    """The type inside ``Annotated[...]`` and ``X | None``."""
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
        current = unwrap(current)
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
    current = unwrap(current)
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


#: What YAML made of a value, in the file author's words (bool before int, datetime before date).
_YAML_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "true/false"),
    (int, "a whole number"),
    (float, "a number"),
    (str, "text"),
    (dict, "a mapping"),
    (list, "a list"),
    (type(None), "an empty value"),
    (datetime, "a date and time"),
    (date, "a date"),
)


def yaml_kind(value: Any) -> str:
    """What ``value`` is, as a YAML author would say it: "text", "a list" ..."""
    for kind, text in _YAML_KINDS:
        if isinstance(value, kind):
            return text
    return type(value).__name__


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
    "cron": CRON_HINT,
    "empty_streams": "remove `streams:` to sync every stream, or list at least one",
    "repeated_streams": "list each stream once",
    "database_url": "e.g. sqlite:///hub.db or postgresql+psycopg://user@localhost/hub",
    "url_parsing": "write a full URL, e.g. https://example.com",
    "url_scheme": "write a full URL, e.g. https://example.com",
}


def is_secret_annotation(annotation: Any) -> bool:
    """Whether a field of this type holds a secret (SecretStr/SecretBytes, also nested)."""
    annotation = unwrap(annotation)
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(is_secret_annotation(arg) for arg in get_args(annotation))


def _is_secret_path(model: type[BaseModel], path: Loc) -> bool:
    """Whether ``path`` (inside ``model``) ends at a SecretStr/SecretBytes field."""
    if not path:
        return False
    parent = _model_at(model, path[:-1])
    if parent is None:
        return False
    found = _field_named(parent, path[-1])
    return found is not None and is_secret_annotation(found[1].annotation)


def problems_from_validation(
    exc: ValidationError,
    *,
    file: str,
    data: Any,
    model: type[BaseModel],
    document: Any,
    prefix: Loc = (),
    hide_inputs: Sequence[Loc] = (),
    skip: Sequence[Loc] = (),
    not_in_file: Collection[str] = (),
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, located in the file, never echoing secrets.

    ``data`` was validated by ``model``; it sits at ``prefix`` in ``document``
    (the file as parsed by :mod:`hub.yamlfile`, for line numbers). Errors
    under ``skip`` are dropped (already reported), inputs under
    ``hide_inputs`` are masked (they came from the environment), and the
    top-level fields named in ``not_in_file`` are not offered as keys.
    """
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
            if not path[:-1]:
                allowed = [name for name in allowed if name not in not_in_file]
            message = f"unknown key {key!r}"
            hint = did_you_mean(key, allowed) + (
                f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
            )
        elif kind == "missing" and path:
            key = str(path[-1])
            parent_text = format_location(location[:-1]) or "the top level"
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
                message = f"{message} (found {yaml_kind(value)})"
            hint = _HINTS.get(kind, "see docs/config.md for the allowed values")
        problems.append(
            Problem(
                file=file,
                location=format_location(location),
                message=redact(message),
                line=line_at(document, location),
                hint=redact(hint),
            )
        )
    return problems
