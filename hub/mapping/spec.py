"""The validated form of a mapping file: what each stream, entity and field says.

Parsing checks everything that can be checked without a record: known keys,
entities, columns, converters and their arguments, paths and where they may
be used. Every problem is collected (not just the first) with its file, its
location inside the file, its line and a fix, and the caller raises them
together as one :class:`hub.errors.MappingFileError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.mapping.nodes import VALUE_SOURCES
from hub.mapping.paths import Path
from hub.schema import ENVELOPE_FIELDS
from hub.yamlfile import YDict

SUPPORTED_VERSIONS = (1,)
FILE_KEYS = ("source", "version", "streams", "description")
ROOT_KEYS = (
    "entity",
    "external_id",
    "updated_at",
    "fields",
    "drop",
    "children",
    "description",
)
CHILD_KEYS = (
    "entity",
    "each",
    "external_id",
    "external_id_scope",
    "parent_field",
    "updated_at",
    "fields",
    "drop",
    "required",
    "merge",
    "description",
)
MERGE_MODES = ("replace", "fill")
FIELD_KEYS = (
    *VALUE_SOURCES,
    "convert",
    "args",
    "map",
    "unmapped",
    "default",
    "ref",
    "required",
    "keep_in_extra",
    "description",
)
ALTERNATIVE_KEYS = ("path", "value", "template", "convert", "args", "map", "unmapped", "default")
UNMAPPED = ("null", "keep", "error")
# Envelope columns the engine fills itself; a mapping may never set them.
ENGINE_OWNED = frozenset(ENVELOPE_FIELDS)


class _Nothing:
    """Marks 'no constant' (``None`` is a valid constant)."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()


@dataclass(frozen=True)
class Step:
    """One converter of a chain, its arguments already bound."""

    name: str
    function: Callable[[Any], Any]
    args: Mapping[str, Any]
    sensitive: bool = False  # its input is personal data: never shown in messages


@dataclass(frozen=True)
class ValueSpec:
    """How one value is produced: source (paths, constant, template or alternatives), then
    converters, ``map``, ``default``, ``required`` and ``ref``, in that order."""

    label: str
    paths: tuple[Path, ...] = ()
    constant: Any = NOTHING
    template: tuple[str | Path, ...] | None = None
    alternatives: tuple[ValueSpec, ...] = ()
    steps: tuple[Step, ...] = ()
    mapping: Mapping[Any, Any] | None = None
    unmapped: str = "null"
    default: Any = None
    ref: tuple[str, str] | None = None
    required: bool = False
    sensitive: bool = False
    #: read the paths but leave their values in ``extra`` (fields only)
    keep_in_extra: bool = False

    def describe(self) -> str:
        """Where the value comes from, for error messages."""
        if self.paths:
            return "path " + " | ".join(p.text for p in self.paths)
        if self.template is not None:
            return "template"
        if self.alternatives:
            return "coalesce"
        return "constant value"

    def read_paths(self) -> list[Path]:
        """Every path this value reads, alternatives and template placeholders included."""
        found = list(self.paths)
        found += [part for part in self.template or () if isinstance(part, Path)]
        for alternative in self.alternatives:
            found += alternative.read_paths()
        return found


@dataclass(frozen=True)
class FieldSpec:
    column: str
    value: ValueSpec


@dataclass(frozen=True)
class EntitySpec:
    """The root row of a stream, or one child (``each``: one row per list element)."""

    entity: str
    external_id: ValueSpec
    fields: tuple[FieldSpec, ...]
    updated_at: ValueSpec | None = None
    each: Path | None = None
    scope: Literal["parent", "global"] = "global"
    parent_field: str | None = None
    required: bool = False
    #: "replace": the row is a version of the entity (the latest wins);
    #: "fill": a reference that creates the entity if missing and fills its empty columns.
    merge: Literal["replace", "fill"] = "replace"
    #: paths removed from this row's ``extra`` without being placed (personal or bulky data)
    drop: tuple[Path, ...] = ()


@dataclass(frozen=True)
class StreamSpec:
    source: str
    stream: str
    file: str
    root: EntitySpec
    children: tuple[EntitySpec, ...] = ()

    @property
    def entities(self) -> tuple[str, ...]:
        """Entity names in row order, root first, each once."""
        return tuple(dict.fromkeys([self.root.entity, *(c.entity for c in self.children)]))

    @property
    def fill_entities(self) -> frozenset[str]:
        """Entities whose rows only fill gaps (``merge: fill`` children)."""
        return frozenset(c.entity for c in self.children if c.merge == "fill")


@dataclass
class FileSpec:
    """One parsed mapping file: its source, raw stream nodes and validated streams."""

    file: str
    source: str | None = None
    raw_streams: dict[str, YDict] = field(default_factory=dict)
    streams: dict[str, StreamSpec] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """``value`` with YAML nodes turned back into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def close_matches(name: Any, choices: Sequence[str] | frozenset[str], count: int = 3) -> str:
    """`` (did you mean a, b?)`` or empty text."""
    found = difflib.get_close_matches(str(name), sorted(choices), n=count, cutoff=0.6)
    return f" (did you mean {', '.join(found)}?)" if found else ""


def run_pipeline(spec: ValueSpec, value: Any) -> Any:
    """Converters, map, default: used at load time to fold constants and defaults."""
    for step in spec.steps:
        if value is None:
            break
        value = step.function(value)
    if spec.mapping is not None and value is not None:
        found = spec.mapping.get(value, NOTHING)
        if found is NOTHING:
            if spec.unmapped == "error":
                raise ValueError(f"{value!r} is not one of the keys of map")
            found = value if spec.unmapped == "keep" else None
        value = found
    if value is None:
        value = spec.default
    return value
