"""Mapping-file specifics on top of :mod:`hub.yamlfile`: loading, overrides, merging.

Mapping files are parsed by :func:`hub.yamlfile.load_yaml_file` into
YDict / YList nodes that remember the file and line of every key.
:func:`load_mapping_file` adds the hints that speak about mapping files.
Overrides from ``hub.yaml`` may arrive as ordinary dicts; :func:`as_nodes`
wraps them so that their problems name that file instead, and :func:`merge`
lays them over a mapping file's stream while keeping each key's origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.errors import Problem
from hub.yamlfile import Origin, YDict, YList, load_yaml_file, origin_of

# The keys that say where a field's value comes from (exactly one per field).
VALUE_SOURCES = ("path", "value", "template", "coalesce")


def load_mapping_file(path: Path) -> tuple[Any, list[Problem]]:
    """Read and parse a mapping file; every problem (unreadable, bad YAML) names its line."""
    return load_yaml_file(
        path,
        hint="check the path; mapping files are listed under `mappings:` in the config "
        "or registered by a plugin",
        hints={
            "flow": "inside { } or [ ], quote text that contains [ ] { } or commas, "
            "e.g. {path: 'discount_codes[].code'}"
        },
        syntax_error="not valid YAML",
    )


def as_nodes(value: Any, origin: Origin) -> Any:
    """``value`` with every dict / list wrapped as YDict / YList attributed to ``origin``.

    Nodes that already carry provenance (from :func:`load_yaml`) keep their
    lines but are re-attributed to ``origin``'s file and override flag.
    """
    if isinstance(value, Mapping):
        base = origin_of(value)
        node = YDict(_reattribute(base, origin))
        for key, item in value.items():
            key_origin = origin_of(value, key) if base is not None else None
            node[key] = as_nodes(item, _reattribute(key_origin, origin))
            node.key_origins[key] = _reattribute(key_origin, origin)
        return node
    if isinstance(value, list | tuple):
        base = origin_of(value)
        seq = YList(_reattribute(base, origin))
        for index, item in enumerate(value):
            item_origin = origin_of(value, index) if base is not None else None
            seq.append(as_nodes(item, _reattribute(item_origin, origin)))
            seq.item_origins.append(_reattribute(item_origin, origin))
        return seq
    return value


def _reattribute(found: Origin | None, origin: Origin) -> Origin:
    if found is None:
        return origin
    return Origin(origin.file, found.line, origin.override)


def merge(base: Any, override: Any, *, entity: bool = True) -> Any:
    """``override`` deep-merged onto ``base``; a key set to ``None`` in it removes the key.

    Mappings merge key by key; anything else (scalars, lists) replaces. Two
    exceptions apply to an entity (the stream's root or a child: ``entity``):
    an override ``children`` given as a mapping (keyed by a child's entity
    name or its 0-based index) merges into the matching children instead of
    replacing the list, and an override ``drop`` list is appended to the
    entity's own, so a connection can drop more fields but never un-drops one
    by accident (``drop: null`` removes the list, explicitly).
    """
    promote = isinstance(override, YDict) and isinstance(base, str | YList)
    if promote and not any(key in override for key in VALUE_SOURCES):
        # `amount: total` overridden by `{convert: decimal}` keeps the path
        promoted = YDict(override.origin, {"path": base})
        promoted.key_origins["path"] = override.origin
        base = promoted
    if not (isinstance(base, YDict) and isinstance(override, YDict)):
        return override
    result = YDict(override.origin if override else base.origin, base)
    result.key_origins = dict(base.key_origins)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
            result.key_origins.pop(key, None)
            continue
        if key in result:
            if (
                entity
                and key == "children"
                and isinstance(result[key], YList)
                and isinstance(value, YDict)
            ):
                result[key] = merge_children(result[key], value)
            elif entity and key == "drop" and isinstance(result[key], YList):
                result[key] = _append(result[key], value)
            else:
                result[key] = merge(result[key], value, entity=False)
        else:
            result[key] = value
        result.key_origins[key] = override.origin_of(key)
    return result


def _append(base: YList, override: Any) -> Any:
    """``base`` followed by the items of the list ``override`` (anything else replaces)."""
    if not isinstance(override, YList):
        return override  # not a list: the checker reports it with the override's origin
    joined = YList(override.origin, [*base, *override])
    joined.item_origins = [base.origin_of(i) for i in range(len(base))] + [
        override.origin_of(i) for i in range(len(override))
    ]
    return joined


def merge_children(base: YList, override: YDict) -> YList:
    """Children merged by entity name or index; an unmatched key becomes a new child."""
    merged = YList(base.origin, base)
    merged.item_origins = list(base.item_origins)
    for key, value in override.items():
        index = _child_index(merged, key)
        if index is None:
            if value is not None:
                if isinstance(key, str) and isinstance(value, YDict) and "entity" not in value:
                    named = YDict(value.origin, {"entity": key, **value})
                    named.key_origins = {"entity": override.origin_of(key), **value.key_origins}
                    value = named
                merged.append(value)
                merged.item_origins.append(override.origin_of(key))
            continue
        if value is None:
            del merged[index]
            del merged.item_origins[index : index + 1]
        else:
            merged[index] = merge(merged[index], value)
            if index < len(merged.item_origins):
                merged.item_origins[index] = override.origin_of(key)
    return merged


def _child_index(children: YList, key: Any) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return key if 0 <= key < len(children) else None
    for index, child in enumerate(children):
        if isinstance(child, Mapping) and child.get("entity") == key:
            return index
    return None
