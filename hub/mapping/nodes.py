"""YAML parsed with provenance: every mapping key remembers its file and line.

Mapping files are validated after parsing, so a problem found later (an
unknown column, a bad path) must still point at the line the user wrote.
:func:`load_yaml` parses with ``yaml.SafeLoader`` semantics (never
``yaml.load``) into :class:`YDict` / :class:`YList`, plain ``dict`` / ``list``
subclasses that also carry where each key or item came from. Overrides from
``hub.yaml`` arrive as ordinary dicts; :func:`as_nodes` wraps them so that
their problems name that file instead, and :func:`merge` lays them over a
mapping file's stream while keeping each key's origin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.errors import Problem


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a key or value was written: file, 1-based line, and whether it is an override."""

    file: str
    line: int | None = None
    override: bool = False


class YDict(dict[Any, Any]):
    """A YAML mapping that remembers its own origin and the origin of each key."""

    __slots__ = ("key_origins", "origin")

    def __init__(self, origin: Origin, *args: Any) -> None:
        super().__init__(*args)
        self.origin = origin
        self.key_origins: dict[Any, Origin] = {}

    def origin_of(self, key: Any) -> Origin:
        """The origin of ``key`` (the mapping's own origin if the key is not known)."""
        return self.key_origins.get(key, self.origin)


class YList(list[Any]):
    """A YAML sequence that remembers its own origin and the origin of each item."""

    __slots__ = ("item_origins", "origin")

    def __init__(self, origin: Origin, *args: Any) -> None:
        super().__init__(*args)
        self.origin = origin
        self.item_origins: list[Origin] = []

    def origin_of(self, index: int) -> Origin:
        if 0 <= index < len(self.item_origins):
            return self.item_origins[index]
        return self.origin


def origin_of(node: Any, key: Any = None) -> Origin | None:
    """The origin of ``node[key]`` (or of ``node``) when ``node`` carries provenance."""
    if isinstance(node, YDict):
        return node.origin if key is None else node.origin_of(key)
    if isinstance(node, YList):
        return node.origin if key is None else node.origin_of(key)
    return None


# The keys that say where a field's value comes from (exactly one per field).
VALUE_SOURCES = ("path", "value", "template", "coalesce")


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences are YDict / YList with line numbers."""

    file_name = "<string>"
    duplicates: list[Problem]


def _mark_origin(loader: _Loader, node: yaml.Node) -> Origin:
    return Origin(loader.file_name, node.start_mark.line + 1)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Iterator[YDict]:
    data = YDict(_mark_origin(loader, node))
    yield data
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys like safe_load does
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key (a list or mapping used as a key)",
                key_node.start_mark,
            ) from None
        origin = _mark_origin(loader, key_node)
        if key in data.key_origins:
            first = data.key_origins[key]
            loader.duplicates.append(
                Problem(
                    loader.file_name,
                    str(key),
                    f"key {key!r} appears twice in the same mapping (first on line {first.line}); "
                    "YAML would silently keep only the last one",
                    origin.line,
                    "remove or rename one of them",
                )
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_origins[key] = origin


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Iterator[YList]:
    data = YList(_mark_origin(loader, node))
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_origins.append(_mark_origin(loader, item))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str, file: str) -> tuple[Any, list[Problem]]:
    """Parse ``text`` (the contents of ``file``) into nodes; syntax errors become problems.

    Returns the document (``None`` when it is empty or unreadable) and the
    problems found: YAML syntax errors with their line, and duplicate keys,
    which plain ``yaml.safe_load`` would silently accept.
    """
    loader = _Loader(text)
    loader.file_name = file
    loader.duplicates = []
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        hint = "check the indentation and quoting on this line and the one before it"
        if "flow" in message:
            hint = (
                "inside { } or [ ], quote text that contains [ ] { } or commas, "
                "e.g. {path: 'discount_codes[].code'}"
            )
        return None, [
            Problem(
                file,
                "",
                f"not valid YAML: {message}",
                None if mark is None else mark.line + 1,
                hint,
            )
        ]
    except yaml.YAMLError as exc:
        return None, [Problem(file, "", f"not valid YAML: {exc}", None, None)]
    finally:
        loader.dispose()
    return document, list(loader.duplicates)


def load_yaml_file(path: Path) -> tuple[Any, list[Problem]]:
    """Read and parse a YAML file; a missing or unreadable file is a problem, not a crash."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [
            Problem(
                str(path),
                "",
                f"cannot read the file: {exc.strerror or exc}",
                None,
                "check the path; mapping files are listed under `mappings:` in the config "
                "or registered by a plugin",
            )
        ]
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), "", f"not UTF-8 text: {exc}", None, "save it as UTF-8")]
    return load_yaml(text, str(path))


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


def merge(base: Any, override: Any) -> Any:
    """``override`` deep-merged onto ``base``; a key set to ``None`` in it removes the key.

    Mappings merge key by key; anything else (scalars, lists) replaces. One
    exception makes lists of children editable: an override ``children`` given
    as a mapping (keyed by a child's entity name or its 0-based index) merges
    into the matching children instead of replacing the list.
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
            if key == "children" and isinstance(result[key], YList) and isinstance(value, YDict):
                result[key] = merge_children(result[key], value)
            else:
                result[key] = merge(result[key], value)
        else:
            result[key] = value
        result.key_origins[key] = override.origin_of(key)
    return result


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
