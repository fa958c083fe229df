"""Validation of one value spec: a field, an external id or an updated_at.

A value spec is a path (text), a list of paths (first non-null), or a
mapping with a source (path, value, template or coalesce) and optional
convert/args, map/unmapped, default, ref and required. Constants and
defaults are run through their converters here, once, so a bad one is
reported at load time with its line.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Literal

from hub.errors import Problem
from hub.mapping.converters import SENSITIVE_CONVERTERS, Converter
from hub.mapping.nodes import VALUE_SOURCES
from hub.mapping.paths import Path, PathError, parse_path
from hub.mapping.spec import (
    ALTERNATIVE_KEYS,
    FIELD_KEYS,
    NOTHING,
    UNMAPPED,
    Step,
    ValueSpec,
    close_matches,
    plain,
    run_pipeline,
)
from hub.schema import ENTITIES
from hub.yamlfile import Origin, YDict, origin_of

Kind = Literal["field", "external_id", "updated_at", "alternative"]


#: The keys of ``ref: {...}``; a tenant or connection key is refused with its own message.
_REF_KEYS = ("entity", "source")
_REF_SCOPE = ("tenant", "connection")


class ValueChecker:
    """Validates value specs (fields, ids, timestamps) and reports problems with their origin."""

    def __init__(
        self,
        converters: Mapping[str, Converter],
        *,
        file: str,
        stream: str,
        override_location: str | None = None,
    ) -> None:
        self.converters = converters
        self.file = file
        self.stream = stream
        self.override_location = override_location or f"mapping_overrides.{stream}"
        self.problems: list[Problem] = []

    # -- reporting -------------------------------------------------------

    def problem(
        self, node: Any, key: Any, where: Sequence[Any], message: str, hint: str | None = None
    ) -> None:
        origin = origin_of(node, key) or Origin(self.file)
        prefix = self.override_location if origin.override else f"streams.{self.stream}"
        location = ".".join([prefix, *(str(part) for part in where)])
        self.problems.append(Problem(origin.file, location, message, origin.line, hint))

    def unknown_keys(
        self,
        node: YDict,
        where: Sequence[Any],
        allowed: Sequence[str],
        what: str,
        listed: Sequence[str] | None = None,
    ) -> None:
        """Report keys of ``node`` not in ``allowed`` (hint: the keys in ``listed``)."""
        listed = allowed if listed is None else listed
        for key in node:
            if key not in allowed:
                self.problem(
                    node,
                    key,
                    [*where, key],
                    f"unknown key {key!r} in {what}{close_matches(key, listed)}",
                    f"the keys of {what} are: {', '.join(listed)}",
                )

    # -- values ----------------------------------------------------------------

    def value_spec(
        self,
        node: Any,
        key: Any,
        where: list[Any],
        kind: Kind,
        child: bool,
        each: bool,
    ) -> ValueSpec | None:
        raw = node[key]
        label = ".".join(str(part) for part in where if not isinstance(part, int))
        if kind == "updated_at" and not (isinstance(raw, YDict) and "convert" in raw):
            raw = self.with_timestamp(raw, origin_of(node, key) or Origin(self.file))
        if isinstance(raw, str):
            path = self.path(node, key, raw, where, child=child, each=each)
            return None if path is None else ValueSpec(label, paths=(path,))
        if isinstance(raw, list) and kind != "alternative":
            return self.path_list(node, key, raw, where, label, child, each)
        if not isinstance(raw, YDict):
            self.problem(
                node,
                key,
                where,
                f"expected a path or a mapping, got {type(raw).__name__} {raw!r}",
                f"for a constant write {{value: {raw!r}}}; for a path, quote it"
                if raw is not None
                else "write a path (e.g. total) or a mapping such as {path: total}",
            )
            return None
        allowed: tuple[str, ...] = ALTERNATIVE_KEYS if kind == "alternative" else FIELD_KEYS
        if kind in ("external_id", "updated_at"):
            allowed = tuple(k for k in FIELD_KEYS if k not in ("ref", "required", "keep_in_extra"))
        self.unknown_keys(raw, where, allowed, "a value" if kind == "alternative" else "a field")
        sources = [k for k in VALUE_SOURCES if k in raw and k in allowed]
        if len(sources) != 1:
            self.problem(
                node,
                key,
                where,
                "needs exactly one of path, value, template or coalesce"
                + (f" (found {', '.join(sources)})" if sources else ""),
                "path: read it from the record; value: a constant; template: text built "
                "from several paths; coalesce: the first non-null of several values",
            )
            return None
        before = len(self.problems)
        scope = (child, each, kind == "alternative")
        spec = ValueSpec(label, **self.source_of(raw, sources[0], where, scope, label))
        steps = self.steps(raw, where)
        mapping, unmapped = self.mapping(raw, where)
        spec = ValueSpec(
            label,
            paths=spec.paths,
            constant=spec.constant,
            template=spec.template,
            alternatives=spec.alternatives,
            steps=steps,
            mapping=mapping,
            unmapped=unmapped,
            ref=self.ref(raw, where),
            required=self.flag(raw, "required", where),
            keep_in_extra=self.keep_in_extra(raw, where, sources[0]),
            sensitive=any(s.sensitive for s in steps)
            or any(a.sensitive for a in spec.alternatives),
        )
        if len(self.problems) > before:
            return None
        return self.fold(raw, where, spec)

    def with_timestamp(self, raw: Any, origin: Origin) -> Any:
        """``updated_at`` converts with ``timestamp`` unless it names its own converter."""
        if isinstance(raw, YDict):
            node = YDict(raw.origin, raw)
            node.key_origins = dict(raw.key_origins)
            node["convert"] = "timestamp"
            return node
        if isinstance(raw, str | list):
            return YDict(origin, {"path": raw, "convert": "timestamp"})
        return raw

    def source_of(
        self,
        raw: YDict,
        source: str,
        where: list[Any],
        scope: tuple[bool, bool, bool],
        label: str,
    ) -> dict[str, Any]:
        child, each, alternative = scope
        value = raw[source]
        key_where = [*where, source]
        if source == "value":
            return {"constant": plain(value)}
        if source == "path":
            if isinstance(value, list) and alternative:
                self.problem(
                    raw,
                    "path",
                    key_where,
                    "inside coalesce a value reads one path",
                    "write each path as its own coalesce item",
                )
                return {}
            if isinstance(value, list):
                spec = self.path_list(raw, "path", value, key_where, label, child, each)
                return {"paths": spec.paths if spec else ()}
            path = self.path(raw, "path", value, key_where, child=child, each=each)
            return {"paths": (path,) if path else ()}
        if source == "template":
            return {"template": self.template(raw, value, key_where, child, each)}
        alternatives: list[ValueSpec] = []
        if not isinstance(value, list) or len(value) < 2:
            self.problem(
                raw,
                "coalesce",
                key_where,
                "coalesce must list at least two values (paths or mappings)",
                "e.g. coalesce: [note_attributes[name=awc].value, "
                "{path: landing_site, convert: query_param, args: {name: awc}}]",
            )
            return {}
        for index in range(len(value)):
            spec = self.value_spec(value, index, [*key_where, index], "alternative", child, each)
            if spec is not None:
                alternatives.append(spec)
        return {"alternatives": tuple(alternatives)}

    def path_list(
        self,
        node: Any,
        key: Any,
        raw: list[Any],
        where: list[Any],
        label: str,
        child: bool,
        each: bool,
    ) -> ValueSpec | None:
        if not raw:
            self.problem(node, key, where, "an empty list of paths", "write at least one path")
            return None
        paths = [
            self.path(raw, index, item, [*where, index], child=child, each=each)
            for index, item in enumerate(raw)
        ]
        if any(p is None for p in paths):
            return None
        return ValueSpec(label, paths=tuple(p for p in paths if p is not None))

    def path(
        self, node: Any, key: Any, raw: Any, where: list[Any], *, child: bool, each: bool
    ) -> Path | None:
        try:
            path = parse_path(raw)
        except PathError as exc:
            self.problem(node, key, where, f"malformed path: {exc}", exc.hint)
            return None
        if path.base == "parent" and not child:
            self.problem(
                node,
                key,
                where,
                f"path {path.text!r} reads the parent record, but the stream's root has no parent",
                "remove the '^.' prefix: root paths start at the record",
            )
            return None
        if path.base == "index" and not each:
            self.problem(
                node,
                key,
                where,
                "`#` (the element's position) exists only inside a child with `each`",
                "use a path to an id instead",
            )
            return None
        return path

    def template(
        self, node: YDict, raw: Any, where: list[Any], child: bool, each: bool
    ) -> tuple[str | Path, ...] | None:
        if not isinstance(raw, str):
            self.problem(node, "template", where, "template must be text such as '{a}:{b}'")
            return None
        parts: list[str | Path] = []
        text, position = "", 0
        while position < len(raw):
            char = raw[position]
            if raw.startswith(("{{", "}}"), position):
                text += char
                position += 2
            elif char == "{":
                end = raw.find("}", position)
                if end < 0:
                    self.problem(
                        node, "template", where, "'{' without a closing '}'", "write {{ for '{'"
                    )
                    return None
                if text:
                    parts.append(text)
                    text = ""
                path = self.path(
                    node, "template", raw[position + 1 : end], where, child=child, each=each
                )
                if path is None:
                    return None
                parts.append(path)
                position = end + 1
            elif char == "}":
                self.problem(node, "template", where, "'}' without '{'", "write }} for '}'")
                return None
            else:
                text += char
                position += 1
        if text:
            parts.append(text)
        if not any(isinstance(part, Path) for part in parts):
            self.problem(
                node,
                "template",
                where,
                "template has no {path} placeholder",
                "use value: for constant text",
            )
            return None
        return tuple(parts)

    def steps(self, raw: YDict, where: list[Any]) -> tuple[Step, ...]:
        if "convert" not in raw:
            if "args" in raw:
                self.problem(
                    raw, "args", [*where, "args"], "args without convert", "add convert: <name>"
                )
            return ()
        convert = raw["convert"]
        key_where = [*where, "convert"]
        items: list[tuple[Any, Any, Any, list[Any]]] = []  # (name, args, node, where)
        if isinstance(convert, str):
            items.append((convert, raw.get("args"), raw, [*where, "args"]))
        elif isinstance(convert, list) and convert:
            if "args" in raw and len(convert) > 1:
                self.problem(
                    raw,
                    "args",
                    [*where, "args"],
                    "args is ambiguous with a chain of converters",
                    "give each step its own: convert: [strip, {timestamp: {timezone: UTC}}]",
                )
            for index, item in enumerate(convert):
                item_where = [*key_where, index]
                if isinstance(item, str):
                    args = raw.get("args") if len(convert) == 1 else None
                    items.append((item, args, raw, [*where, "args"]))
                elif isinstance(item, YDict) and len(item) == 1:
                    ((name, args),) = item.items()
                    items.append((name, args, item, [*item_where, name]))
                else:
                    self.problem(
                        convert,
                        index,
                        item_where,
                        "each converter is a name or {name: {arg: value}}",
                        "e.g. convert: [strip, {timestamp: {timezone: Europe/Berlin}}]",
                    )
        else:
            self.problem(
                raw,
                "convert",
                key_where,
                "convert must be a converter name or a list of them",
                f"available: {', '.join(sorted(self.converters))}",
            )
        steps: list[Step] = []
        for name, args, node, args_where in items:
            step = self.step(raw, name, args, node, key_where, args_where)
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def step(
        self,
        raw: YDict,
        name: Any,
        args: Any,
        args_node: Any,
        where: list[Any],
        args_where: list[Any],
    ) -> Step | None:
        function = self.converters.get(name) if isinstance(name, str) else None
        if function is None:
            self.problem(
                raw,
                "convert",
                where,
                f"unknown converter {name!r}{close_matches(name, list(self.converters))}",
                f"available: {', '.join(sorted(self.converters))}; plugins add more through "
                "the hub_register_converters hook",
            )
            return None
        args_key = "args" if args_node is raw else name
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            self.problem(args_node, args_key, args_where, "args must be a mapping of name: value")
            return None
        args = plain(args)
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # some builtins have no signature
            signature = None
        if signature is not None:
            try:
                signature.bind(None, **args)
            except TypeError as exc:
                names = [p for p in list(signature.parameters)[1:]]
                self.problem(
                    args_node,
                    args_key,
                    args_where,
                    f"converter {name!r} cannot take these args: {exc}",
                    f"it takes: {', '.join(names) or 'no arguments'}",
                )
                return None
        check = getattr(function, "validate_args", None)
        if check is not None:
            try:
                check(**args)
            except (TypeError, ValueError) as exc:
                self.problem(
                    args_node,
                    args_key,
                    args_where,
                    f"converter {name!r}: {exc}",
                    f"fix the args of {name!r} (docs/mapping.md lists each converter's args)",
                )
                return None
        bound = partial(function, **args) if args else function
        sensitive = name in SENSITIVE_CONVERTERS or getattr(function, "sensitive", False) is True
        return Step(name, bound, args, sensitive)

    def mapping(self, raw: YDict, where: list[Any]) -> tuple[dict[Any, Any] | None, str]:
        unmapped = raw.get("unmapped", "null")
        unmapped = "null" if unmapped is None else unmapped
        if unmapped not in UNMAPPED:
            self.problem(
                raw,
                "unmapped",
                [*where, "unmapped"],
                f"unmapped must be null, keep or error, not {unmapped!r}",
                "null: values missing from map become null (then default); keep: pass them "
                "through; error: quarantine the record",
            )
        if "unmapped" in raw and "map" not in raw:
            self.problem(raw, "unmapped", [*where, "unmapped"], "unmapped without map")
        if "map" not in raw:
            return None, str(unmapped)
        table = raw["map"]
        if not isinstance(table, Mapping) or not table:
            self.problem(
                raw,
                "map",
                [*where, "map"],
                "map must be a non-empty mapping of source value: canonical value",
                "e.g. map: {paid: approved, voided: cancelled}",
            )
            return None, str(unmapped)
        lookup: dict[Any, Any] = {}
        for key, value in table.items():
            lookup[key] = plain(value)
            if isinstance(key, int) and not isinstance(key, bool):
                lookup.setdefault(str(key), plain(value))  # CSV and JSON send "1" as text
        return lookup, str(unmapped)

    def ref(self, raw: YDict, where: list[Any]) -> tuple[str, str] | None:
        if "ref" not in raw:
            return None
        value = raw["ref"]
        entity, source = (value, None) if isinstance(value, str) else (None, None)
        if isinstance(value, Mapping):
            # A ref always names a row of the connection's own tenant (tenant isolation).
            self.unknown_keys(value, [*where, "ref"], (*_REF_KEYS, *_REF_SCOPE), "a ref", _REF_KEYS)  # type: ignore[arg-type]
            for key in _REF_SCOPE:
                if key in value:
                    self.problem(
                        value,
                        key,
                        [*where, "ref", key],
                        f"a ref cannot name a {key}: it always points at a row of the tenant "
                        "whose connection runs the sync",
                        f"remove `{key}:` from the ref; rows of another tenant can never be "
                        "referenced (see docs/mapping.md, ids and the envelope)",
                    )
            entity, source = value.get("entity"), value.get("source")
        if entity not in ENTITIES:
            self.problem(
                raw,
                "ref",
                [*where, "ref"],
                f"ref names unknown entity {entity!r}{close_matches(entity, list(ENTITIES))}",
                f"use one of: {', '.join(ENTITIES)} (or {{entity: partner, source: awin}} for "
                "a row another connector stores)",
            )
            return None
        if source is not None and (not isinstance(source, str) or not source):
            self.problem(raw, "ref", [*where, "ref"], "ref source must be a connector name")
            return None
        return str(entity), source or ""

    def keep_in_extra(self, raw: YDict, where: list[Any], source: str) -> bool:
        """``keep_in_extra: true``: the field reads its paths but leaves them in ``extra``."""
        keep = self.flag(raw, "keep_in_extra", where)
        if keep and source == "value":
            self.problem(
                raw,
                "keep_in_extra",
                [*where, "keep_in_extra"],
                "keep_in_extra needs a field that reads the record; a constant places nothing",
                "remove keep_in_extra, or read a path: {path: landing_site, keep_in_extra: true}",
            )
        return keep

    def flag(self, raw: YDict, key: str, where: list[Any]) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.problem(raw, key, [*where, key], f"{key} must be true or false, not {value!r}")
            return False
        return value

    def fold(self, raw: YDict, where: list[Any], spec: ValueSpec) -> ValueSpec | None:
        """Run converters on constants and on the default now: mistakes show at load."""
        default = plain(raw.get("default"))
        try:
            if default is not None and spec.mapping is None:
                default = run_pipeline(ValueSpec(spec.label, steps=spec.steps), default)
        except (TypeError, ValueError) as exc:
            self.problem(
                raw,
                "default",
                [*where, "default"],
                f"default {default!r} does not convert: {exc}",
                "write the default as the source would send it",
            )
            return None
        spec = _replace(spec, default=default)
        if spec.constant is NOTHING:
            return spec
        try:
            constant = run_pipeline(spec, spec.constant)
        except (TypeError, ValueError) as exc:
            self.problem(
                raw, "value", [*where, "value"], f"value {spec.constant!r} does not convert: {exc}"
            )
            return None
        return ValueSpec(
            spec.label,
            constant=constant,
            ref=spec.ref,
            required=spec.required,
            default=spec.default,
        )


def _replace(spec: ValueSpec, **changes: Any) -> ValueSpec:
    return replace(spec, **changes)
